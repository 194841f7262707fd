"""Simulated presentation attacks made from genuine face images — for EVALUATION ONLY.

The positive-only liveness model (seed 004) never sees any of these in training; the supervised
baseline in :mod:`.baseline` trains on some types and is scored on the others.

Every attack is a pure function of ``(image, rng)``: the same seed gives the same bytes. Images are
float32 RGB in [0, 1] at a *work size* several times the model input (the harness renders at 4×,
then :func:`camera_capture` brings genuine and attack images alike down to the model input), so
halftone dots and screen sub-pixels are finer than a model pixel, as in a real capture.

Each :class:`Attack` lists its parameters as uniform ranges; one value per parameter is drawn per
image. The ranges are documented in ``docs/liveness.md`` (table "Attack generators").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from biogate.sim.focus import defocus

Image = np.ndarray  # float32 H×W×3 RGB in [0, 1]
Params = dict[str, float]


@dataclass(frozen=True)
class Attack:
    """One presentation-attack instrument species (PAIS, ISO/IEC 30107-3 wording)."""

    name: str
    family: str  # "print", "replay" or "partial"
    description: str
    ranges: dict[str, tuple[float, float]]
    render: Callable[[Image, Params, np.random.Generator], Image]

    def sample_params(self, rng: np.random.Generator) -> Params:
        """One uniform draw per parameter, in sorted key order (so the draw order is stable)."""
        return {k: float(rng.uniform(*self.ranges[k])) for k in sorted(self.ranges)}

    def __call__(self, image: Image, rng: np.random.Generator) -> Image:
        out = self.render(image.astype(np.float32, copy=False), self.sample_params(rng), rng)
        return np.clip(out, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------- building blocks


def _luma(img: Image) -> np.ndarray:
    return img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def gamut_loss(img: Image, saturation: float, black: float, white: float, warm: float) -> Image:
    """Print gamut: desaturate, lift the blacks to the paper's ink density, cap the whites, warm tint."""
    y = _luma(img)[..., None]
    out = y + saturation * (img - y)
    out = black + (white - black) * out
    tint = np.array([1.0 + warm, 1.0, 1.0 - warm], dtype=np.float32)
    return out * tint


def paper_texture(img: Image, strength: float, fibre: float, rng: np.random.Generator) -> Image:
    """Multiplicative paper texture: fine grain, directional fibres and low-frequency mottling."""
    h, w = img.shape[:2]
    grain = rng.standard_normal((h, w)).astype(np.float32)
    fibres = cv2.GaussianBlur(
        rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigmaX=fibre, sigmaY=0.5
    )
    mottle = cv2.resize(rng.standard_normal((h // 32 + 2, w // 32 + 2)).astype(np.float32), (w, h))
    tex = 0.5 * grain + 0.7 * fibres / (fibres.std() + 1e-6) + 0.7 * mottle
    return img * (1.0 + strength * tex[..., None])


def halftone(img: Image, cell: float, rng: np.random.Generator) -> Image:
    """Clustered-dot CMY halftone with the classic screen angles (15°, 75°, 0°) and a random phase."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ink = np.empty_like(img)
    for c, angle in enumerate((15.0, 75.0, 0.0)):
        t = np.deg2rad(angle)
        phase = rng.uniform(0, 1, size=2)
        u = (xx * np.cos(t) + yy * np.sin(t)) / cell + phase[0]
        v = (-xx * np.sin(t) + yy * np.cos(t)) / cell + phase[1]
        spot = 0.5 - 0.25 * (np.cos(2 * np.pi * u) + np.cos(2 * np.pi * v))  # 0 at the dot centre
        ink[..., c] = (1.0 - img[..., c]) > spot
    return 1.0 - ink


def recapture_blur(img: Image, sigma: float, noise: float, rng: np.random.Generator) -> Image:
    """The attacker's medium re-photographed: optical blur (the cameras' one defocus model,
    :func:`biogate.sim.focus.defocus`) plus sensor noise."""
    out = defocus(img, max(sigma, 1e-3))
    return out + noise * rng.standard_normal(out.shape).astype(np.float32)


def cylinder_bend(img: Image, curvature: float, shade: float, backdrop: float) -> Image:
    """A print bent round a vertical axis: horizontal foreshortening, edge shading, backdrop showing."""
    h, w = img.shape[:2]
    cx = (w - 1) / 2.0
    radius = w / (2.0 * max(curvature, 1e-3))  # curvature = half-width / radius (radians at the edge)
    x_out = np.arange(w, dtype=np.float32) - cx
    # The sheet's half-width w/2 projects to radius·sin(curvature); scale so the bent sheet fills
    # the crop's centre and the backdrop shows at the sides.
    ratio = np.clip(x_out / radius, -1.0, 1.0)
    theta = np.arcsin(ratio)
    x_src = theta * radius + cx
    inside = (np.abs(x_src - cx) <= cx) & (np.abs(x_out / radius) < 1.0)
    map_x = np.tile(x_src, (h, 1)).astype(np.float32)
    map_y = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
    bent = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    light = (np.clip(np.cos(theta), 0.0, 1.0) ** shade).astype(np.float32)[None, :, None]
    out = bent * light
    out[:, ~inside] = backdrop
    return out


def screen_moire(img: Image, pitch: int, angle: float, zoom: float, optics: float) -> Image:
    """Show ``img`` on an RGB-stripe panel (black matrix), re-sample it with a tilted camera grid.

    The panel's sub-pixel grid beats against the camera's pixel grid: moiré fringes. ``optics`` is
    the lens blur in panel-pixel units; the sub-pixel pattern it leaves is what aliases.
    """
    h, w = img.shape[:2]
    panel = cv2.resize(img, (w * pitch, h * pitch), interpolation=cv2.INTER_NEAREST)
    cell = np.zeros((pitch, pitch, 3), dtype=np.float32)
    for col in range(min(pitch, 3)):
        cell[: pitch - 1, col, col] = 1.0  # R, G, B stripes; a black gap row (and column when pitch 4)
    cell /= cell.mean(axis=(0, 1), keepdims=True)  # keep each primary's mean luminance
    panel *= np.tile(cell, (h, w, 1))
    panel = cv2.GaussianBlur(panel, (0, 0), sigmaX=optics * pitch)
    center = (panel.shape[1] / 2.0, panel.shape[0] / 2.0)
    m = cv2.getRotationMatrix2D(center, angle, zoom / pitch)
    m[:, 2] += (w / 2.0 - center[0], h / 2.0 - center[1])
    # Plain bilinear sampling without a pre-filter is what aliases the grid into fringes.
    return cv2.warpAffine(panel, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def display_tone(img: Image, gamma: float, cast_r: float, cast_b: float, black: float, white: float) -> Image:
    """Display + re-capture tone: gamma mismatch, white-point colour cast, reduced dynamic range."""
    out = np.power(np.clip(img, 0, 1), gamma) * np.array([cast_r, 1.0, cast_b], dtype=np.float32)
    return black + (white - black) * out


def specular_glare(img: Image, x: float, y: float, size: float, peak: float, veil: float) -> Image:
    """A specular highlight from a glossy screen/print plus a veiling glare over the whole frame."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - x * w) / (size * w)) ** 2 + ((yy - y * h) / (0.6 * size * h)) ** 2
    spot = peak * np.exp(-r2)[..., None]
    return img * (1.0 - veil) + veil + spot


def paper_edge(img: Image, printed: Image, row: float, shadow: float) -> Image:
    """Cover the frame below ``row`` with ``printed`` (a photo held up), with a lit edge and a shadow."""
    h = img.shape[0]
    r = int(np.clip(row, 0.2, 0.9) * h)
    out = img.copy()
    out[r:] = printed[r:]
    band = max(1, h // 64)
    out[r : r + band] = np.clip(out[r : r + band] + 0.25, 0, 1)  # the sheet's cut edge catches light
    out[max(0, r - 3 * band) : r] *= 1.0 - shadow  # its shadow on the real face above
    return out


# ---------------------------------------------------------------- the attack species


def _print_base(img: Image, p: Params, rng: np.random.Generator) -> Image:
    out = gamut_loss(img, p["saturation"], p["black"], p["white"], p["warm"])
    return paper_texture(out, p["texture"], 6.0, rng)


def _print_halftone(img: Image, p: Params, rng: np.random.Generator) -> Image:
    out = halftone(gamut_loss(img, p["saturation"], p["black"], p["white"], p["warm"]), p["cell"], rng)
    out = cv2.GaussianBlur(out, (0, 0), sigmaX=0.35 * p["cell"])  # dot gain / ink spread
    out = paper_texture(out, p["texture"], 6.0, rng)
    return recapture_blur(out, p["blur"], 0.01, rng)


def _print_photo(img: Image, p: Params, rng: np.random.Generator) -> Image:
    return recapture_blur(_print_base(img, p, rng), p["blur"], 0.01, rng)


def _print_bent(img: Image, p: Params, rng: np.random.Generator) -> Image:
    out = cylinder_bend(_print_base(img, p, rng), p["curvature"], p["shade"], p["backdrop"])
    return recapture_blur(out, p["blur"], 0.01, rng)


def _replay_moire(img: Image, p: Params, rng: np.random.Generator) -> Image:
    out = screen_moire(img, round(p["pitch"]), p["angle"], p["zoom"], p["optics"])
    out = display_tone(out, p["gamma"], p["cast_r"], p["cast_b"], p["black"], p["white"])
    return recapture_blur(out, p["blur"], 0.01, rng)


def _replay_tone(img: Image, p: Params, rng: np.random.Generator) -> Image:
    out = display_tone(img, p["gamma"], p["cast_r"], p["cast_b"], p["black"], p["white"])
    return recapture_blur(out, p["blur"], 0.01, rng)


def _replay_glare(img: Image, p: Params, rng: np.random.Generator) -> Image:
    out = display_tone(img, p["gamma"], p["cast_r"], p["cast_b"], p["black"], p["white"])
    out = specular_glare(out, p["x"], p["y"], p["size"], p["peak"], p["veil"])
    return recapture_blur(out, p["blur"], 0.01, rng)


def _cut_eyes(img: Image, p: Params, rng: np.random.Generator) -> Image:
    """A printed photo with the eyes cut out, worn over a real face: real eyes through the holes."""
    printed = _print_base(img, p, rng)
    h, w = img.shape[:2]
    mask = np.zeros((h, w), dtype=np.uint8)
    ry, rx = int(p["hole"] * h * 0.6), int(p["hole"] * w)
    for ex in (p["eye_x"], 1.0 - p["eye_x"]):
        cv2.ellipse(mask, (int(ex * w), int(p["eye_y"] * h)), (rx, ry), 0, 0, 360, 255, -1)
    hole = (mask > 0)[..., None]
    rim = cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0
    out = np.where(hole, img * 0.85, printed)  # the real eyes sit in the paper's shadow
    out[rim & ~hole[..., 0]] *= 0.5  # the cut edge
    return recapture_blur(out, p["blur"], 0.01, rng)


def _partial_print(img: Image, p: Params, rng: np.random.Generator) -> Image:
    printed = recapture_blur(_print_base(img, p, rng), 0.8, 0.0, rng)
    out = paper_edge(img, printed, p["row"], p["shadow"])
    return recapture_blur(out, p["blur"], 0.01, rng)


_PRINT = {"saturation": (0.55, 0.85), "black": (0.06, 0.16), "white": (0.82, 0.94), "warm": (0.0, 0.06)}
_TONE = {
    "gamma": (0.6, 1.6),
    "cast_r": (0.85, 1.1),
    "cast_b": (0.95, 1.25),
    "black": (0.04, 0.14),
    "white": (0.75, 0.95),
}

ATTACKS: dict[str, Attack] = {
    a.name: a
    for a in (
        Attack(
            "print_halftone",
            "print",
            "office/laser print: clustered-dot CMY halftone, gamut loss, paper texture, re-photographed",
            {**_PRINT, "cell": (3.0, 6.0), "texture": (0.02, 0.05), "blur": (0.6, 1.2)},
            _print_halftone,
        ),
        Attack(
            "print_photo",
            "print",
            "photo-paper print (no visible dots): gamut loss and paper texture only",
            {**_PRINT, "texture": (0.03, 0.07), "blur": (0.6, 1.4)},
            _print_photo,
        ),
        Attack(
            "print_bent",
            "print",
            "photo print bent round a vertical axis: foreshortening, shading, backdrop at the sides",
            {
                **_PRINT,
                "texture": (0.03, 0.07),
                "curvature": (0.5, 1.1),
                "shade": (0.8, 2.0),
                "backdrop": (0.15, 0.6),
                "blur": (0.6, 1.4),
            },
            _print_bent,
        ),
        Attack(
            "replay_moire",
            "replay",
            "screen replay: RGB-stripe panel re-sampled by a tilted camera (moiré), gamma, cast, low range",
            {
                **_TONE,
                "pitch": (3.0, 4.0),
                "angle": (-6.0, 6.0),
                "zoom": (0.9, 1.1),
                "optics": (0.3, 0.45),
                "blur": (0.3, 0.8),
            },
            _replay_moire,
        ),
        Attack(
            "replay_tone",
            "replay",
            "screen replay of a high-density panel (no visible grid): gamma, colour cast, reduced range",
            {**_TONE, "blur": (0.6, 1.4)},
            _replay_tone,
        ),
        Attack(
            "replay_glare",
            "replay",
            "glossy screen replay: tone changes plus a specular highlight and veiling glare",
            {
                **_TONE,
                "x": (0.2, 0.8),
                "y": (0.15, 0.6),
                "size": (0.08, 0.25),
                "peak": (0.4, 0.9),
                "veil": (0.05, 0.2),
                "blur": (0.6, 1.4),
            },
            _replay_glare,
        ),
        Attack(
            "cut_eyes",
            "partial",
            "cut photo: a print with eye holes worn over a real face (real eyes show through)",
            {
                **_PRINT,
                "texture": (0.03, 0.07),
                "hole": (0.06, 0.1),
                "eye_x": (0.32, 0.38),
                "eye_y": (0.38, 0.46),
                "blur": (0.6, 1.4),
            },
            _cut_eyes,
        ),
        Attack(
            "partial_print",
            "partial",
            "partial attack: a printed photo held over the lower part of the real face, edge and shadow",
            {**_PRINT, "texture": (0.03, 0.07), "row": (0.45, 0.7), "shadow": (0.2, 0.5), "blur": (0.6, 1.4)},
            _partial_print,
        ),
    )
}


def attack_names() -> list[str]:
    """Every attack species, in a fixed order."""
    return list(ATTACKS)


def apply_attack(image: np.ndarray, name: str, seed: int) -> np.ndarray:
    """Turn one genuine RGB ``uint8`` image into attack ``name``; identical output for identical seeds."""
    try:
        attack = ATTACKS[name]
    except KeyError:
        raise KeyError(f"unknown attack {name!r}; choose from {', '.join(ATTACKS)}") from None
    rng = np.random.default_rng(seed)
    out = attack(image.astype(np.float32) / 255.0, rng)
    return np.round(out * 255.0).astype(np.uint8)


def camera_capture(
    image: np.ndarray, size: int, rng: np.random.Generator, noise: float = 0.008
) -> np.ndarray:
    """The terminal's own camera, applied to genuine and attack images alike: area resize + noise.

    Takes and returns RGB ``uint8``; the output is ``size``×``size``.
    """
    small = cv2.resize(image.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_AREA)
    small = small + noise * rng.standard_normal(small.shape).astype(np.float32)
    return np.round(np.clip(small, 0, 1) * 255.0).astype(np.uint8)
