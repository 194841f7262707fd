"""Palm radiograph simulator for seed 001 (no palm radiographs ship offline, so the project makes them).

A scan is rendered in three steps:

1. **Scene** — a hand (or a fake palm) as 2-D projections of 3-D primitives in millimetres:
   long bones as tapered capsules with a cortical shell and a trabecular core, carpals as
   ellipsoids, joint soft tissue as ellipsoids around each joint, fingers/thumb/forearm as soft
   tissue capsules and the palm as a rounded slab, all under a skin layer.  Each material gets a
   path-length map (cm).
2. **Beer–Lambert** — line integral ``A = Σ μ_m · L_m`` with monoenergetic μ at 40 keV
   (:data:`MU_PER_CM`, from NIST XCOM/ICRU-44 mass attenuation coefficients); trabecular μ is
   modulated by a band-pass texture field (the non-reproducible bone micro-structure).
3. **Detector** — Poisson quanta on the fine render grid, scintillator blur (Gaussian PSF), binning
   to the detector pitch, read noise, gain and quantisation to ``bits`` (14 by default).  The
   low-resolution device detector and the high-resolution reference detector see the same scene.

Every sample is a pure function of ``(kind, seed, index)``.  Fake palms (:data:`FAKE_KINDS`) reuse
the same hand geometry with the wrong physics; their parameters are documented in ``docs/palm.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from biogate.errors import ConfigError

#: Linear attenuation coefficients (1/cm) at a 40 keV effective energy (a filtered ~60 kVp hand beam).
MU_PER_CM: dict[str, float] = {
    "cortical": 1.28,  # ICRU-44 cortical bone, μ/ρ 0.666 cm²/g × 1.92 g/cm³
    "trabecular": 0.52,  # ~25 % bone volume fraction in marrow
    "soft": 0.285,  # ICRU-44 soft tissue, 0.269 × 1.06
    "skin": 0.294,  # ICRU skin, 0.270 × 1.09
    "joint": 0.30,  # cartilage + synovial fluid + capsule, ρ ≈ 1.10
    "silicone": 0.446,  # PDMS/Ecoflex (Si-rich), 0.417 × 1.07
    "plaster": 1.00,  # cast gypsum CaSO4·2H2O, ρ ≈ 1.2
    "pla": 0.30,  # 3D-printing PLA, solid, 0.24 × 1.24
    "pvc": 1.15,  # PVC rod (chlorine), ρ 1.38
    "aluminium": 1.53,  # Al, 0.568 × 2.70
    "bone_cement": 0.95,  # PMMA + 10 % BaSO4
}
LIVE_KIND = "live"
#: Fake palm kinds (label 0).  See docs/palm.md for what each imitates and its parameter ranges.
FAKE_KINDS = ("rubber", "plaster", "printed", "rods", "resin_bones")
KINDS = (LIVE_KIND, *FAKE_KINDS)

# Canonical right hand, PA view, mm, wrist down (+y), fingers up (-y).
# Per ray: metacarpal base (x, y), direction (deg from -y, + toward the little finger),
# bone lengths (metacarpal, proximal, middle, distal; thumb has no middle) and shaft radii.
_RAYS = (
    ((-19.0, 36.0), -38.0, (46.0, 32.0, 0.0, 23.0), (5.0, 4.3, 0.0, 3.4)),
    ((-12.0, 29.0), -8.0, (68.0, 40.0, 23.0, 16.0), (4.3, 4.1, 3.4, 2.8)),
    ((-2.0, 27.0), 0.0, (65.0, 45.0, 28.0, 18.0), (4.4, 4.3, 3.6, 2.9)),
    ((8.0, 29.0), 7.0, (58.0, 42.0, 26.0, 18.0), (3.7, 3.9, 3.3, 2.7)),
    ((17.0, 32.0), 14.0, (54.0, 33.0, 18.0, 16.0), (3.8, 3.4, 2.9, 2.5)),
)
# Carpals: centre (x, y), semi-axes (a, b), angle (deg).
_CARPALS = (
    ((-16.0, 50.0), (7.0, 4.5), 30.0),  # scaphoid
    ((-5.0, 54.0), (5.5, 5.0), 0.0),  # lunate
    ((6.0, 53.0), (5.0, 4.5), -20.0),  # triquetrum
    ((12.0, 49.0), (3.5, 3.5), 0.0),  # pisiform
    ((-20.0, 40.0), (5.0, 5.0), 20.0),  # trapezium
    ((-11.0, 38.0), (4.5, 4.0), 0.0),  # trapezoid
    ((-2.0, 42.0), (5.0, 7.0), 0.0),  # capitate
    ((9.0, 42.0), (5.5, 6.0), -10.0),  # hamate
)
_FOREARM = (((-9.0, 62.0), (-9.0, 130.0), 10.0), ((12.0, 64.0), (14.0, 130.0), 7.0))  # radius, ulna


@dataclass(frozen=True)
class ScanConfig:
    """Geometry of the palm scanner.

    ``lr_size`` is the device detector (the seed's low-resolution "first image"); the reference
    detector has ``lr_size * scale`` pixels over the same field of view; rendering runs on a grid
    ``render_factor`` times finer still so both detectors integrate over real sub-pixel detail.
    """

    fov_mm: float = 120.0
    lr_size: int = 64
    scale: int = 2
    render_factor: int = 2
    bits: int = 14
    lr_psf_mm: float = 0.6  # thick, cheap scintillator of the device
    hr_psf_mm: float = 0.25  # thin scintillator of the reference detector
    lr_quanta: tuple[float, float] = (2000.0, 6000.0)  # open-beam quanta per device pixel
    hr_quanta: float = 20000.0  # reference detector: high dose, low noise
    read_noise_adu: float = 3.0

    @property
    def hr_size(self) -> int:
        return self.lr_size * self.scale

    @property
    def render_size(self) -> int:
        return self.hr_size * self.render_factor

    @property
    def render_px_mm(self) -> float:
        return self.fov_mm / self.render_size


@dataclass
class Scan:
    """One simulated capture: raw detector counts at both resolutions plus its ground truth."""

    lr: np.ndarray  # uint16 (lr_size, lr_size), offset-corrected, linear in detected quanta
    hr: np.ndarray  # uint16 (hr_size, hr_size), reference detector
    label: int  # 1 live, 0 fake
    kind: str
    subject: str
    params: dict[str, Any] = field(default_factory=dict)
    attenuation: np.ndarray | None = None  # line integral at render resolution (for tests/plots)


# ---------------------------------------------------------------- geometry
def _grid(cfg: ScanConfig) -> tuple[np.ndarray, np.ndarray]:
    n, px = cfg.render_size, cfg.render_px_mm
    c = (np.arange(n, dtype=np.float32) + 0.5) * px - cfg.fov_mm / 2
    return np.meshgrid(c, c)


def _box(xs: np.ndarray, ys: np.ndarray, pts: np.ndarray, pad: float) -> tuple[slice, slice] | None:
    x0, x1 = pts[:, 0].min() - pad, pts[:, 0].max() + pad
    y0, y1 = pts[:, 1].min() - pad, pts[:, 1].max() + pad
    c = xs[0]
    i0, i1 = np.searchsorted(c, y0), np.searchsorted(c, y1)
    j0, j1 = np.searchsorted(c, x0), np.searchsorted(c, x1)
    if i1 <= i0 or j1 <= j0:
        return None
    return slice(i0, i1), slice(j0, j1)


def _capsule(xs, ys, a, b, radius, flare=0.0, inner=None, depth=1.0):
    """Path lengths (mm) through a tapered capsule a→b: ``(outer, inner)`` maps over the full grid.

    ``radius`` is the shaft radius; ``flare`` widens both ends (epiphyses, heads); ``inner`` is the
    fraction of the radius that is medullary (trabecular) at mid-shaft, thinning toward the ends.
    """
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    out = np.zeros_like(xs)
    inn = np.zeros_like(xs) if inner is not None else None
    sl = _box(xs, ys, np.stack([a, b]), radius * (1 + flare) + 1.0)
    if sl is None:
        return out, inn
    X, Y = xs[sl], ys[sl]
    d = b - a
    length2 = float(d @ d) or 1e-6
    t = ((X - a[0]) * d[0] + (Y - a[1]) * d[1]) / length2
    s = np.clip(t, 0.0, 1.0)
    dist2 = (X - a[0] - s * d[0]) ** 2 + (Y - a[1] - s * d[1]) ** 2
    ends = np.maximum(0.0, 1.0 - s / 0.22) ** 2 + np.maximum(0.0, 1.0 - (1.0 - s) / 0.22) ** 2
    r = radius * (1.0 + flare * ends)
    out[sl] = 2.0 * depth * np.sqrt(np.maximum(r * r - dist2, 0.0))
    if inner is not None:
        ri = r * (1.0 - (1.0 - inner) * (1.0 - 0.75 * ends))  # thin cortex at the epiphyses
        inn[sl] = 2.0 * depth * np.sqrt(np.maximum(ri * ri - dist2, 0.0))
    return out, inn


def _ellipsoid(xs, ys, c, axes, angle_deg, depth):
    """Path length (mm) through an ellipsoid with in-plane semi-axes ``axes`` and depth semi-axis."""
    out = np.zeros_like(xs)
    c = np.asarray(c, np.float32)
    sl = _box(xs, ys, c[None], max(axes) + 1.0)
    if sl is None:
        return out
    th = math.radians(angle_deg)
    X, Y = xs[sl] - c[0], ys[sl] - c[1]
    u = (X * math.cos(th) + Y * math.sin(th)) / axes[0]
    v = (-X * math.sin(th) + Y * math.cos(th)) / axes[1]
    out[sl] = 2.0 * depth * np.sqrt(np.maximum(1.0 - u * u - v * v, 0.0))
    return out


@dataclass
class Hand:
    """Per-subject skeleton and pose, already placed in field-of-view millimetres."""

    rays: list[list[tuple[np.ndarray, np.ndarray, float]]]  # per ray: (start, end, shaft radius) per bone
    carpals: list[tuple[np.ndarray, tuple[float, float], float]]
    forearm: list[tuple[np.ndarray, np.ndarray, float]]
    palm_outline: np.ndarray  # polygon (k, 2)
    scale: float
    params: dict[str, Any]


def sample_hand(rng: np.random.Generator, partial: bool = False) -> Hand:
    """Draw a subject (sex, age, size, bone widths, joint spacing) and a pose on the scanner."""
    sex = "F" if rng.random() < 0.5 else "M"
    age = float(rng.uniform(18, 80))
    scale = float(rng.normal(0.95 if sex == "F" else 1.05, 0.05))
    width = float(rng.normal(1.0, 0.07))
    gap = float(rng.uniform(1.0, 2.4))  # joint space (cartilage) in mm
    rot = float(rng.normal(0.0, 7.0))
    shift = rng.normal(0.0, 4.0, size=2) + np.array([0.0, -2.0])
    if partial:  # hand placed half off the detector: the quality check must ask for a re-scan
        shift = shift + rng.choice([-1.0, 1.0]) * np.array([rng.uniform(40, 55), 0.0])
    mirror = rng.random() < 0.5
    spread = rng.normal(0.0, 3.0, size=5)
    th = math.radians(rot)
    rmat = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]], np.float32)
    centre = np.array([0.0, 2.0], np.float32)  # palm centre of the canonical hand sits near the FOV centre

    def place(p):
        q = (np.asarray(p, np.float32) - centre) * scale
        if mirror:
            q[0] = -q[0]
        return rmat @ q + shift.astype(np.float32)

    rays = []
    for (base, ang, lengths, radii), sp in zip(_RAYS, spread):
        direction = math.radians(ang + sp)
        u = np.array([math.sin(direction), -math.cos(direction)], np.float32)
        p = np.asarray(base, np.float32)
        bones = []
        for k, (ln, r) in enumerate(zip(lengths, radii)):
            if ln <= 0:
                continue
            ln = ln * float(rng.normal(1.0, 0.03))
            q = p + u * ln
            bones.append((place(p), place(q), r * width * scale))
            p = q + u * gap * (1.0 if k else 1.3)
            u = np.array([math.sin(direction + 0.04 * k), -math.cos(direction + 0.04 * k)], np.float32)
        rays.append(bones)
    carpals = [(place(c), (ax[0] * scale * width, ax[1] * scale * width), ang) for c, ax, ang in _CARPALS]
    forearm = [(place(a), place(b), r * scale * width) for a, b, r in _FOREARM]
    # Palm outline: wrist, thenar bulge, just past each metacarpal head (finger webs), hypothenar edge.
    webs = [place(np.asarray(_RAYS[i][0]) + np.array([0.0, -_RAYS[i][2][0] - 4.0])) for i in range(1, 5)]
    webs[0], webs[-1] = webs[0] + np.float32([-4, 0]) * scale, webs[-1] + np.float32([4, 0]) * scale
    outline = np.stack(
        [
            place((-24.0, 64.0)),
            place((-30.0, 38.0)),
            place((-27.0, 12.0)),
            *webs,
            place((28.0, -8.0)),
            place((29.0, 30.0)),
            place((24.0, 64.0)),
        ]
    )
    params = dict(
        sex=sex,
        age=round(age, 1),
        scale=round(scale, 3),
        width=round(width, 3),
        joint_gap_mm=round(gap, 2),
        rotation_deg=round(rot, 1),
        mirror=bool(mirror),
        partial=partial,
    )
    return Hand(rays, carpals, forearm, outline, scale, params)


# ---------------------------------------------------------------- materials → path lengths
def _tissue(xs, ys, hand: Hand, cfg: ScanConfig, shrink: float = 0.0) -> np.ndarray:
    """Soft-tissue thickness (mm) of the hand envelope, every radius reduced by ``shrink``."""
    t = np.zeros_like(xs)
    for i, ray in enumerate(hand.rays):
        start = ray[0][0] if i == 0 else ray[0][1]  # thumb tissue from the thenar eminence
        tip = ray[-1][1] + (ray[-1][1] - ray[-1][0]) * 0.25
        radius = (11.0 if i == 0 else 8.5) * hand.scale - shrink
        t = np.maximum(t, _capsule(xs, ys, start, tip, radius, depth=0.85)[0])
    wrist = 0.5 * (hand.forearm[0][0] + hand.forearm[1][0])
    arm = wrist + 1.8 * (0.5 * (hand.forearm[0][1] + hand.forearm[1][1]) - wrist)
    t = np.maximum(t, _capsule(xs, ys, wrist, arm, 29.0 * hand.scale - shrink, depth=0.7)[0])
    mask = np.zeros(xs.shape, np.uint8)
    px = cfg.render_px_mm
    poly = ((hand.palm_outline + cfg.fov_mm / 2) / px - 0.5).round().astype(np.int32)
    cv2.fillPoly(mask, [poly], 1)
    mask = np.pad(mask, 1)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)[1:-1, 1:-1] * px - shrink
    edge = 14.0 * hand.scale
    core = 28.0 * hand.scale
    slab = core * np.sqrt(np.clip(1.0 - (1.0 - np.clip(dist / edge, 0.0, 1.0)) ** 2, 0.0, 1.0))
    slab[dist <= 0] = 0.0
    slab[mask[1:-1, 1:-1] == 0] = 0.0
    return np.maximum(t, slab)


def _texture(rng: np.random.Generator, cfg: ScanConfig, fine_mm: float, coarse_mm: float) -> np.ndarray:
    """Zero-mean, unit-std band-pass noise: trabecular micro-structure unique to each bone."""
    n, px = cfg.render_size, cfg.render_px_mm
    w = rng.standard_normal((n, n)).astype(np.float32)
    t = cv2.GaussianBlur(w, (0, 0), fine_mm / px) - cv2.GaussianBlur(w, (0, 0), coarse_mm / px)
    return t / (t.std() + 1e-6)


def _skeleton_paths(xs, ys, hand: Hand, medullary: float | None, flare: float = 0.35):
    """(outer, inner) bone path maps (mm); ``medullary=None`` gives solid bones (no inner map)."""
    outer, inner = np.zeros_like(xs), np.zeros_like(xs)
    for ray in hand.rays:
        for a, b, r in ray:
            o, i = _capsule(xs, ys, a, b, r, flare=flare, inner=medullary)
            outer += o
            if i is not None:
                inner += i
    for c, ax, ang in hand.carpals:
        outer += _ellipsoid(xs, ys, c, ax, ang, 0.5 * (ax[0] + ax[1]))
        if medullary is not None:
            inner += _ellipsoid(xs, ys, c, (ax[0] * 0.8, ax[1] * 0.8), ang, 0.4 * (ax[0] + ax[1]))
    for a, b, r in hand.forearm:
        o, i = _capsule(xs, ys, a, b, r, flare=0.25, inner=medullary)
        outer += o
        if i is not None:
            inner += i
    return outer, inner


def _joints(xs, ys, hand: Hand) -> np.ndarray:
    """Joint soft tissue (cartilage, synovium, capsule) around every joint of every ray."""
    t = np.zeros_like(xs)
    for ray in hand.rays:
        # consecutive bones (itertools.pairwise is 3.10+, the device side runs on 3.8)
        for (_, end, r), (start, _, _) in zip(ray, ray[1:]):
            c = 0.5 * (end + start)
            d = start - end
            ang = math.degrees(math.atan2(float(d[1]), float(d[0])))
            half = 0.5 * float(np.hypot(*d)) + 3.0
            t += _ellipsoid(xs, ys, c, (half, r * 1.5), ang, r * 1.2)
    return t


def _live_line_integral(rng, hand: Hand, cfg: ScanConfig) -> tuple[np.ndarray, dict[str, Any]]:
    xs, ys = _grid(cfg)
    age = hand.params["age"]
    medullary = float(np.clip(0.55 + 0.004 * (age - 18) + rng.normal(0, 0.04), 0.45, 0.85))
    bv = float(np.clip(1.0 - 0.006 * (age - 18) + rng.normal(0, 0.05), 0.5, 1.2))  # bone-density factor
    outer, inner = _skeleton_paths(xs, ys, hand, medullary)
    joint = _joints(xs, ys, hand)
    tissue = _tissue(xs, ys, hand, cfg)
    skin = np.maximum(tissue - _tissue(xs, ys, hand, cfg, shrink=1.5), 0.0)
    tex = _texture(rng, cfg, 0.35, 1.2)
    mu = MU_PER_CM
    soft = np.maximum(tissue - skin - outer - joint, 0.0)
    trab_mu = mu["trabecular"] * bv * np.clip(1.0 + 0.3 * tex, 0.3, None)
    a_mm = (
        mu["cortical"] * bv * (outer - inner)
        + trab_mu * inner
        + mu["joint"] * np.minimum(joint, tissue)
        + mu["soft"] * soft
        + mu["skin"] * skin
    )
    return a_mm / 10.0, dict(medullary_frac=round(medullary, 3), bone_density=round(bv, 3))


# ---------------------------------------------------------------- fakes
def _fake_line_integral(kind, rng, hand: Hand, cfg: ScanConfig) -> tuple[np.ndarray, dict[str, Any]]:
    xs, ys = _grid(cfg)
    mu = MU_PER_CM
    tissue = _tissue(xs, ys, hand, cfg)
    if kind == "rubber":  # silicone cast of a hand: soft tissue, no skeleton, a few air bubbles
        t = tissue.copy()
        n_bubbles = int(rng.integers(0, 12))
        for _ in range(n_bubbles):
            c = hand.palm_outline.mean(0) + rng.normal(0, 18, 2)
            r = float(rng.uniform(0.5, 2.0))
            t -= _ellipsoid(xs, ys, c, (r, r), 0.0, r)
        m = mu["silicone"] * float(rng.uniform(0.9, 1.1))
        return m * np.maximum(t, 0) / 10.0, dict(material="silicone", bubbles=n_bubbles)
    if kind == "plaster":  # cast plaster or a 3D-printed hand: one uniform density, no inner structure
        if rng.random() < 0.5:
            return mu["plaster"] * float(rng.uniform(0.8, 1.2)) * tissue / 10.0, dict(material="plaster")
        period = float(rng.uniform(2.0, 4.0))
        fill = float(rng.uniform(0.15, 0.45))
        th = math.radians(float(rng.uniform(0, 90)))
        u = xs * math.cos(th) + ys * math.sin(th)
        v = -xs * math.sin(th) + ys * math.cos(th)
        wall = period * fill / 2
        grid = ((np.mod(u, period) < wall) | (np.mod(v, period) < wall)).astype(np.float32)
        shell = np.maximum(tissue - _tissue(xs, ys, hand, cfg, shrink=1.2), 0)
        density = shell + np.maximum(tissue - shell, 0) * grid
        return mu["pla"] * density / 10.0, dict(
            material="pla", infill=round(fill, 2), period_mm=round(period, 2)
        )
    if kind == "printed":  # a radiograph of someone else printed with radiopaque ink, held in the beam
        src = sample_hand(rng)
        a_line, _ = _live_line_integral(rng, src, cfg)
        # The attacker has a radiograph *image* (a detector's output with its own blur, noise and
        # pixel grid), windowed to line-integral units and resampled by the printer.
        shot_psf, shot_quanta = float(rng.uniform(0.25, 0.6)), float(rng.uniform(3000.0, 20000.0))
        shot = _detect(np.exp(-a_line), cfg.render_factor, shot_psf, shot_quanta, cfg, rng).astype(np.float32)
        shot = np.log(float(np.percentile(shot, 99.5)) / np.maximum(shot, 1.0))
        n = cfg.render_size
        a_src = np.clip(cv2.resize(shot, (n, n), interpolation=cv2.INTER_LINEAR), 0.0, None)
        px = cfg.render_px_mm
        blur = float(rng.uniform(0.3, 0.9))
        levels = int(rng.choice([16, 32, 64]))
        gain = float(rng.uniform(0.7, 1.1))
        gamma = float(rng.uniform(0.7, 1.4))
        img = cv2.GaussianBlur(a_src, (0, 0), blur / px)
        top = float(img.max()) or 1.0
        img = np.round((img / top) ** gamma * levels) / levels * top
        period = float(rng.uniform(0.5, 1.5))
        screen = 0.5 + 0.25 * (
            np.cos(2 * np.pi * (xs + ys) / (period * 1.414))
            + np.cos(2 * np.pi * (xs - ys) / (period * 1.414))
        )
        cover = np.clip(img / top, 0, 1)
        ink = np.where(screen < cover, 1.0, cover) * top * gain
        paper = 0.1 * 0.3 / 10.0  # 0.1 mm of paper
        return (ink + paper).astype(np.float32), dict(
            material="ink",
            levels=levels,
            gamma=round(gamma, 2),
            halftone_mm=round(period, 2),
            print_blur_mm=round(blur, 2),
        )
    if kind == "rods":  # silicone hand with simple straight rods where the bones should be
        material = str(rng.choice(["pvc", "aluminium", "bone_cement"]))
        rod = np.zeros_like(xs)
        through = rng.random() < 0.5  # one rod per finger ray, or one per bone
        rfac = float(rng.uniform(0.6, 1.0))
        for ray in hand.rays:
            segs = [(ray[0][0], ray[-1][1], ray[0][2])] if through else ray
            for a, b, r in segs:
                rod += _capsule(xs, ys, a, b, r * rfac)[0]
        soft = np.maximum(tissue - rod, 0)
        a_mm = mu[material] * rod + mu["silicone"] * soft
        return a_mm / 10.0, dict(material=material, rod_per_ray=bool(through), rod_radius_frac=round(rfac, 2))
    if kind == "resin_bones":  # anatomical bones cast in a uniform bone-simulant resin inside a gel hand
        hollow = rng.random() < 0.5
        outer, inner = _skeleton_paths(
            xs, ys, hand, 0.6 if hollow else None, flare=float(rng.uniform(0.1, 0.35))
        )
        bone_mu = float(rng.uniform(0.8, 1.4))
        gel_mu = float(rng.uniform(0.28, 0.45))
        shell = outer - inner if hollow else outer
        a_mm = bone_mu * shell + gel_mu * np.maximum(tissue - outer, 0)
        return a_mm / 10.0, dict(
            material="resin", bone_mu=round(bone_mu, 3), gel_mu=round(gel_mu, 3), hollow=hollow
        )
    raise ConfigError(f"unknown palm kind {kind!r}; valid: {', '.join(KINDS)}")


# ---------------------------------------------------------------- detector
def _detect(
    transmission: np.ndarray, factor: int, psf_mm: float, quanta: float, cfg: ScanConfig, rng
) -> np.ndarray:
    """Quanta → scintillator blur → binning by ``factor`` → read noise → gain → n-bit counts."""
    sub = factor * factor
    q = rng.poisson(np.clip(transmission, 0, None) * (quanta / sub)).astype(np.float32)
    q = cv2.GaussianBlur(q, (0, 0), psf_mm / cfg.render_px_mm)
    n = q.shape[0] // factor
    q = q.reshape(n, factor, n, factor).sum(axis=(1, 3))
    full = (1 << cfg.bits) - 1
    gain = 0.7 * full / quanta  # automatic exposure control puts the open beam at 70 % of full scale
    adu = q * gain + rng.normal(0.0, cfg.read_noise_adu, q.shape)
    return np.clip(np.round(adu), 0, full).astype(np.uint16)


def simulate(
    kind: str,
    seed: int,
    index: int,
    cfg: ScanConfig | None = None,
    *,
    defect: str | None = None,
    keep_attenuation: bool = False,
) -> Scan:
    """Render sample ``index`` of ``kind`` from a generator seeded by ``(seed, kind, index)``.

    ``defect`` makes a capture the quality check must reject: ``blur`` (hand moved during the
    exposure), ``partial`` (hand half off the detector) or ``underexposed`` (tube output too low).
    """
    cfg = cfg or ScanConfig()
    if kind not in KINDS:
        raise ConfigError(f"unknown palm kind {kind!r}; valid: {', '.join(KINDS)}")
    if defect not in (None, "blur", "partial", "underexposed"):
        raise ConfigError(f"unknown defect {defect!r}; valid: blur, partial, underexposed")
    rng = np.random.default_rng([int(seed), KINDS.index(kind), int(index)])
    hand = sample_hand(rng, partial=defect == "partial")
    if kind == LIVE_KIND:
        a, extra = _live_line_integral(rng, hand, cfg)
    else:
        a, extra = _fake_line_integral(kind, rng, hand, cfg)
    transmission = np.exp(-a).astype(np.float32)
    if defect == "blur":  # motion during the exposure smears the transmitted field
        length = int(rng.integers(25, 41))  # 12–19 mm of motion during the exposure
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        transmission = cv2.filter2D(transmission, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)
    quanta = float(rng.uniform(*cfg.lr_quanta)) * (0.02 if defect == "underexposed" else 1.0)
    lr = _detect(transmission, cfg.render_factor * cfg.scale, cfg.lr_psf_mm, quanta, cfg, rng)
    hr = _detect(transmission, cfg.render_factor, cfg.hr_psf_mm, cfg.hr_quanta, cfg, rng)
    params = dict(hand.params, **extra, quanta=round(quanta, 1), defect=defect)
    subject = f"{kind}-{seed}-{index}"
    return Scan(lr, hr, int(kind == LIVE_KIND), kind, subject, params, a if keep_attenuation else None)
