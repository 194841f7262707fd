"""A physically grounded generator of radiometric thermal faces with paired RGB images (seed 002).

No thermal face data ships with any offline package, so the project generates its own. Every
number below is a documented parameter (see ``docs/thermal.md``); the chain is::

    identity (geometry + thermal signature)  ×  capture (core temperature, ambient, pose, distance)
      → skin temperature field (°C)  → grey-body radiance (ε = 0.98, reflected = ambient)
      → atmosphere (τ over the distance)  → optics PSF (blur in radiance)  → apparent °C
      → sensor: gain error about the shutter temperature, offset drift + FFC jumps,
        fixed-pattern noise, NETD temporal noise  → Y16 centi-kelvin frame
    plus an in-scene blackbody (ETRS) disc at a known set point, and a paired RGB rendering of the
    same face from a camera mounted beside the thermal imager on the same horizontal line.

Everything is deterministic under ``seed``: identity ``k`` of a generator is the same face on every
machine, and ``sample(k, index)`` is the same frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from biogate.capture.radiometry import KELVIN, celsius_to_centikelvin
from biogate.errors import ConfigError
from biogate.models.thermal import SKIN_EMISSIVITY

# ----------------------------------------------------------------------------------------- physics
_H, _C, _KB = 6.62607015e-34, 2.99792458e8, 1.380649e-23  # Planck, light speed, Boltzmann (SI)
BAND_UM = (8.0, 14.0)  # microbolometer band (Lepton, Boson)


@lru_cache(maxsize=1)
def _band_table() -> tuple[np.ndarray, np.ndarray]:
    """In-band Planck radiance (W m⁻² sr⁻¹) on a 0.01 K grid from −60 to 160 °C (trapezoid rule)."""
    temps_k = np.arange(-60.0, 160.0 + 1e-9, 0.01) + KELVIN
    lam = np.linspace(BAND_UM[0], BAND_UM[1], 241) * 1e-6
    spectral = (2 * _H * _C**2 / lam**5)[None, :] / np.expm1(
        _H * _C / (lam[None, :] * _KB * temps_k[:, None])
    )
    radiance = (spectral[:, :-1] + spectral[:, 1:]).sum(axis=1) * ((lam[1] - lam[0]) / 2.0)
    return temps_k - KELVIN, radiance


def band_radiance(temp_c: np.ndarray) -> np.ndarray:
    """8–14 µm radiance of a black body at ``temp_c`` °C."""
    temps, radiance = _band_table()
    return np.interp(np.asarray(temp_c, dtype=np.float64), temps, radiance)


def radiance_to_celsius(radiance: np.ndarray) -> np.ndarray:
    """Black-body temperature (°C) of an in-band radiance: the inverse of :func:`band_radiance`."""
    temps, table = _band_table()
    return np.interp(np.asarray(radiance, dtype=np.float64), table, temps)


# ----------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class CameraConfig:
    """A pinhole camera; ``baseline_m`` is its horizontal offset from the thermal imager."""

    width: int
    height: int
    hfov_deg: float
    baseline_m: float = 0.0

    @property
    def focal_px(self) -> float:
        return (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)


@dataclass(frozen=True)
class GeneratorConfig:
    """Every physical parameter of the generator (units in the names; see docs/thermal.md)."""

    thermal: CameraConfig = CameraConfig(320, 240, 40.0)
    rgb: CameraConfig = CameraConfig(640, 480, 60.0, baseline_m=0.06)
    skin_emissivity: float = SKIN_EMISSIVITY
    background_emissivity: float = 0.95
    blackbody_emissivity: float = 0.99
    blackbody_set_c: float = 35.0
    blackbody_stability_c: float = 0.05  # std of the true ETRS temperature about its set point
    blackbody_half_m: float = 0.025  # half side of the square emitter aperture
    blackbody_distance_m: float = 1.0
    blackbody_center_px: tuple[int, int] = (288, 32)
    distance_range_m: tuple[float, float] = (0.6, 1.4)
    focus_distance_m: float = 1.0
    psf_sigma_px: float = 0.6  # diffraction + pixel aperture of an f/1.1 LWIR lens at 12 µm pitch
    defocus_px_per_m: float = 0.5  # extra PSF sigma per metre away from the focus distance
    atmosphere_per_m: float = 0.005  # LWIR extinction: τ = exp(−k·d), ~0.995 at 1 m indoors
    netd_c: float = 0.05  # temporal noise (NETD 50 mK, Lepton datasheet < 50 mK)
    fpn_pixel_c: float = 0.04  # residual per-pixel fixed-pattern noise after FFC
    fpn_column_c: float = 0.03  # column stripes of the readout
    offset_range_c: float = 2.0  # per-sensor radiometric offset, uniform ±this
    ffc_jump_c: float = 0.3  # std of the offset jump at each flat-field correction
    drift_c_per_min: float = 0.15  # max offset drift between FFCs (housing warming)
    ffc_period_s: float = 180.0  # Lepton: automatic FFC every 3 min
    ffc_freeze_s: float = 0.3  # frames frozen during the shutter event
    gain_error: float = 0.03  # per-sensor radiometric gain error, uniform ±this
    fever_fraction: float = 0.25
    n_sensors: int = 8


#: Ambient air bands (°C): training never sees the held-out bands.
AMBIENT_BANDS: dict[str, tuple[tuple[float, float], ...]] = {
    "train": ((18.0, 21.5), (24.5, 28.0)),
    "heldout": ((16.0, 18.0), (21.5, 24.5), (28.0, 30.0)),
}


# --------------------------------------------------------------------------------------- identity


@dataclass(frozen=True)
class Identity:
    """A synthetic person: face geometry (metres), thermal signature (°C) and colours."""

    index: int
    geom: dict[str, float]
    thermal: dict[str, float]
    vessels: np.ndarray  # (K, 3, 2) quadratic Bézier control points in face metres
    vessel_amp: np.ndarray  # (K,) °C
    field_modes: np.ndarray  # (M, 4): kx, ky, phase, amplitude °C of a smooth per-person field
    colors: dict[str, tuple[float, float, float]]
    baseline_core_c: float


def make_identity(index: int, seed: int) -> Identity:
    """Identity ``index`` of the population drawn with ``seed`` (independent of any other index)."""
    rng = np.random.default_rng([seed, 1, index])
    u = rng.uniform
    geom = {
        "head_hw": u(0.070, 0.084),
        "head_hh": u(0.098, 0.116),
        "eye_y": u(-0.022, -0.006),
        "eye_dx": u(0.028, 0.035),
        "eye_rx": u(0.011, 0.015),
        "eye_ry": u(0.0045, 0.0065),
        "nose_len": u(0.040, 0.056),
        "nose_hw": u(0.014, 0.022),
        "mouth_dy": u(0.018, 0.028),
        "mouth_hw": u(0.020, 0.028),
        "hairline_y": u(-0.085, -0.055),
        "hairline_curve": u(0.0, 6.0),
        "hair_volume": u(1.0, 1.12),
        "bald": float(rng.random() < 0.12),
        "ear_y": u(0.0, 0.02),
        "neck_hw": u(0.042, 0.055),
        "brow_dy": u(0.012, 0.018),
    }
    thermal = {
        "canthus_offset": u(0.3, 0.7),  # core − inner canthus (°C)
        "canthus_amb": u(0.02, 0.06),  # canthus change per °C ambient
        "forehead_offset": u(0.9, 1.7),
        "forehead_amb": u(0.10, 0.20),
        "cheek_offset": u(1.8, 2.8),
        "cheek_amb": u(0.20, 0.30),
        "nose_offset": u(3.0, 5.5),
        "nose_amb": u(0.35, 0.50),
        "eye_offset": u(1.2, 1.8),
        "lip_offset": u(1.0, 1.8),
        "ear_offset": u(2.5, 4.5),
        "neck_offset": u(1.2, 1.8),
        "hair_insulation": u(0.15, 0.45),  # hair surface = ambient + this × (skin − ambient)
        "cheek_dx": u(0.030, 0.040),
    }
    n_vessels = int(rng.integers(3, 7))
    starts = np.stack([rng.uniform(-0.06, 0.06, n_vessels), rng.uniform(-0.07, 0.02, n_vessels)], 1)
    vessels = np.stack(
        [starts, starts + rng.normal(0, 0.02, (n_vessels, 2)), starts + rng.normal(0, 0.03, (n_vessels, 2))],
        1,
    )
    modes = np.stack(
        [
            rng.uniform(20, 70, 5),
            rng.uniform(20, 70, 5),
            rng.uniform(0, 2 * np.pi, 5),
            rng.uniform(0.05, 0.15, 5),
        ],
        1,
    )
    skin = np.array([u(0.45, 0.95), 0, 0])
    skin[1] = skin[0] * u(0.70, 0.82)
    skin[2] = skin[0] * u(0.55, 0.70)
    hair_level = u(0.05, 0.6)
    colors = {
        "skin": tuple(skin),
        "hair": (hair_level, hair_level * u(0.7, 0.9), hair_level * u(0.5, 0.8)),
        "iris": (u(0.1, 0.4), u(0.1, 0.4), u(0.05, 0.3)),
        "lips": (skin[0] * u(0.75, 0.9), skin[1] * u(0.5, 0.7), skin[2] * u(0.55, 0.75)),
        "shirt": (u(0, 1), u(0, 1), u(0, 1)),
    }
    return Identity(
        index=index,
        geom=geom,
        thermal=thermal,
        vessels=vessels,
        vessel_amp=rng.uniform(0.15, 0.5, n_vessels),
        field_modes=modes,
        colors=colors,
        baseline_core_c=u(36.3, 37.0),
    )


# ---------------------------------------------------------------------------------------- capture


@dataclass
class Capture:
    """The conditions of one frame: subject state, pose and sensor state."""

    core_c: float
    ambient_c: float
    distance_m: float
    yaw: float
    pitch: float
    roll: float
    offset_x_m: float
    offset_y_m: float
    sensor: int
    t_since_ffc_s: float
    ffc_epoch: int
    light_dir: tuple[float, float]
    acclimation_c: float  # skin offset of someone just in from outside (cold/warm)
    canthus_jitter_c: float


@dataclass
class ThermalSample:
    """One generated frame and its ground truth (temperatures in °C, boxes as x0, y0, x1, y1)."""

    frame_ck: np.ndarray  # (H, W) uint16 centi-kelvin, the sensor's Y16 output
    rgb: np.ndarray | None  # (h, w, 3) uint8 RGB from the side camera, or None
    identity: int
    core_c: float
    skin_c: float  # inner-canthus skin temperature (the screening site)
    ambient_c: float
    distance_m: float
    face_box: tuple[float, float, float, float]  # in the thermal frame
    face_box_rgb: tuple[float, float, float, float]
    canthi_px: np.ndarray  # (2, 2) thermal-frame pixel positions of the inner canthi
    blackbody_box: tuple[int, int, int, int]  # (x, y, w, h) uniform ROI of the reference
    blackbody_set_c: float
    meta: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------- geometry


def _face_coords(xs, ys, cam: CameraConfig, cap: Capture, geom) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face-plane metres (u right, v down, origin at the head centre) seen by each pixel.

    A head is a vertical ellipsoid; yaw/pitch shift surface points by their depth, so the inverse
    map takes one fixed-point step through the ellipsoid's depth.  Returns (u, v, cos θ) with θ
    the angle between the surface normal and the line of sight (for grazing-angle emissivity).
    """
    f = cam.focal_px
    x_m = (xs - cam.width / 2.0) * cap.distance_m / f + cam.baseline_m - cap.offset_x_m
    y_m = (ys - cam.height / 2.0) * cap.distance_m / f - cap.offset_y_m
    cr, sr = math.cos(cap.roll), math.sin(cap.roll)
    x1, y1 = cr * x_m + sr * y_m, -sr * x_m + cr * y_m
    hw, hh = geom["head_hw"], geom["head_hh"]
    depth = 0.09
    u, v = x1 / math.cos(cap.yaw), y1 / math.cos(cap.pitch)
    for _ in range(2):
        r2 = np.clip((u / hw) ** 2 + (v / hh) ** 2, 0.0, 1.0)
        z = depth * np.sqrt(1.0 - r2)
        u = (x1 - z * math.sin(cap.yaw)) / math.cos(cap.yaw)
        v = (y1 - z * math.sin(cap.pitch)) / math.cos(cap.pitch)
    r2 = np.clip((u / hw) ** 2 + (v / hh) ** 2, 0.0, 0.999)
    # normal of the ellipsoid, then rotate by yaw/pitch and compare with the optical axis
    nz = np.sqrt(1.0 - r2) / depth
    nx, ny = u / hw**2, v / hh**2
    nz_view = nz * math.cos(cap.yaw) * math.cos(cap.pitch) - nx * math.sin(cap.yaw) - ny * math.sin(cap.pitch)
    cos_t = np.clip(nz_view / np.sqrt(nx**2 + ny**2 + nz**2), 0.0, 1.0)
    return u, v, cos_t


def _soft(d: np.ndarray, width: float) -> np.ndarray:
    """0→1 ramp across a boundary at d = 0 (d > 0 inside), ``width`` metres wide."""
    return np.clip(0.5 + d / width, 0.0, 1.0)


def _ellipse(u, v, cx, cy, rx, ry, width=0.0015):
    r = np.sqrt(((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2)
    return _soft((1.0 - r) * min(rx, ry), width)


def _gauss(u, v, cx, cy, sx, sy):
    return np.exp(-0.5 * (((u - cx) / sx) ** 2 + ((v - cy) / sy) ** 2))


def _vessel_weight(u, v, ident: Identity) -> np.ndarray:
    """Superficial vessels: Gaussian ridges (≈3 mm wide) along quadratic Bézier curves."""
    out = np.zeros_like(u)
    ts = np.linspace(0.0, 1.0, 9)
    for ctrl, amp in zip(ident.vessels, ident.vessel_amp):
        pts = (
            ((1 - ts) ** 2)[:, None] * ctrl[0]
            + (2 * (1 - ts) * ts)[:, None] * ctrl[1]
            + (ts**2)[:, None] * ctrl[2]
        )
        d2 = np.full(u.shape, np.inf)
        for px, py in pts:
            d2 = np.minimum(d2, (u - px) ** 2 + (v - py) ** 2)
        out += amp * np.exp(-d2 / (2 * 0.0015**2))
    return out


def _layout(geom) -> dict[str, float]:
    eye_y = geom["eye_y"]
    nose_tip = eye_y + geom["nose_len"]
    return {
        "eye_y": eye_y,
        "nose_tip": nose_tip,
        "mouth_y": nose_tip + geom["mouth_dy"],
        "canthus_x": geom["eye_dx"] - 0.9 * geom["eye_rx"],
        "canthus_y": eye_y + 0.3 * geom["eye_ry"],
    }


def _regions(u, v, ident: Identity, detail: bool = True) -> dict[str, np.ndarray]:
    """Soft region weights (0…1) in face coordinates; ``detail=False`` gives only neck and torso."""
    g = ident.geom
    lay = _layout(g)
    hw, hh = g["head_hw"], g["head_hh"]
    neck = _soft(g["neck_hw"] - np.abs(u), 0.003) * _soft(v - 0.05, 0.003) * _soft(0.2 - v, 0.003)
    torso = _soft(v - 0.2, 0.004) * _soft(0.16 - np.abs(u), 0.004)
    if not detail:
        zero = np.zeros_like(u)
        keys = ("head", "hair", "eyes", "canthi", "nose", "cheeks", "mouth", "ears", "brows")
        return {"neck": neck, "torso": torso, **{k: zero for k in keys}}
    head = _ellipse(u, v, 0.0, 0.0, hw, hh)
    hairline = g["hairline_y"] + g["hairline_curve"] * u**2
    hair_shell = _ellipse(u, v, 0.0, -0.008, hw * g["hair_volume"], hh * g["hair_volume"] + 0.004)
    hair = 0.0 if g["bald"] else hair_shell * _soft(hairline - v, 0.004) * _soft(-v - 0.02, 0.02)
    if not g["bald"]:  # hair at the temples, above the ears
        hair = np.maximum(
            hair, hair_shell * _soft(np.abs(u) - (hw - 0.006), 0.003) * _soft(lay["eye_y"] - v, 0.01)
        )
    eyes = np.maximum(
        _ellipse(u, v, -g["eye_dx"], lay["eye_y"], g["eye_rx"], g["eye_ry"]),
        _ellipse(u, v, g["eye_dx"], lay["eye_y"], g["eye_rx"], g["eye_ry"]),
    )
    canthi = np.maximum(
        _gauss(u, v, -lay["canthus_x"], lay["canthus_y"], 0.0045, 0.004),
        _gauss(u, v, lay["canthus_x"], lay["canthus_y"], 0.0045, 0.004),
    )
    nose = _gauss(u, v, 0.0, lay["nose_tip"] - 0.004, g["nose_hw"] * 0.8, 0.014)
    nose = np.maximum(nose, 0.5 * _gauss(u, v, 0.0, lay["eye_y"] + 0.02, g["nose_hw"] * 0.4, 0.02))
    cheeks = np.maximum(
        _gauss(u, v, -ident.thermal["cheek_dx"], lay["eye_y"] + 0.035, 0.016, 0.018),
        _gauss(u, v, ident.thermal["cheek_dx"], lay["eye_y"] + 0.035, 0.016, 0.018),
    )
    mouth = _ellipse(u, v, 0.0, lay["mouth_y"], g["mouth_hw"], 0.006)
    ears = np.maximum(
        _ellipse(u, v, -hw - 0.004, g["ear_y"], 0.01, 0.03),
        _ellipse(u, v, hw + 0.004, g["ear_y"], 0.01, 0.03),
    )
    brows = np.maximum(
        _ellipse(u, v, -g["eye_dx"], lay["eye_y"] - g["brow_dy"], g["eye_rx"] * 1.3, 0.003),
        _ellipse(u, v, g["eye_dx"], lay["eye_y"] - g["brow_dy"], g["eye_rx"] * 1.3, 0.003),
    )
    return {
        "head": head,
        "hair": hair * np.maximum(head, hair_shell),
        "eyes": eyes * head,
        "canthi": canthi * head,
        "nose": nose * head,
        "cheeks": cheeks * head,
        "mouth": mouth * head,
        "ears": ears,
        "neck": neck,
        "torso": torso,
        "brows": brows * head,
    }


# --------------------------------------------------------------------------------------- rendering


def _skin_targets(ident: Identity, cap: Capture) -> dict[str, float]:
    """Region temperatures (°C) for this capture: core minus per-person offsets, with ambient terms."""
    t = ident.thermal
    da = cap.ambient_c - 22.0
    skin = cap.acclimation_c
    return {
        "canthus": cap.core_c - t["canthus_offset"] + t["canthus_amb"] * da + cap.canthus_jitter_c,
        "forehead": cap.core_c - t["forehead_offset"] + t["forehead_amb"] * da + skin,
        "cheek": cap.core_c - t["cheek_offset"] + t["cheek_amb"] * da + 1.3 * skin,
        "nose": cap.core_c - t["nose_offset"] + t["nose_amb"] * da + 2.0 * skin,
        "eye": cap.core_c - t["eye_offset"] + 0.08 * da,
        "lip": cap.core_c - t["lip_offset"] + 0.15 * da + skin,
        "ear": cap.core_c - t["ear_offset"] + 0.35 * da + 2.0 * skin,
        "neck": cap.core_c - t["neck_offset"] + 0.12 * da + skin,
        "torso": cap.ambient_c + 0.45 * (cap.core_c - 3.0 - cap.ambient_c),  # clothing surface
    }


def thermal_scene(
    ident: Identity, cap: Capture, cam: CameraConfig, xs, ys, detail: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """True surface temperature (°C) and emissivity at pixel centres ``xs, ys`` of the thermal camera.

    ``detail=False`` renders only what lies outside the head (neck, clothing, room), cheaply.
    """
    u, v, cos_t = _face_coords(xs, ys, cam, cap, ident.geom)
    reg = _regions(u, v, ident, detail)
    tt = _skin_targets(ident, cap)
    temp = np.full(u.shape, tt["forehead"])
    if detail:
        for kx, ky, ph, amp in ident.field_modes:
            temp += amp * np.sin(kx * u + ky * v + ph)
        temp += _vessel_weight(u, v, ident) * reg["head"]
    for key, target in (("cheeks", "cheek"), ("nose", "nose"), ("mouth", "lip"), ("eyes", "eye")):
        temp += reg[key] * (tt[target] - temp)
    # the inner canthus is the warmest facial site: nothing else on the face may out-read it
    temp = np.minimum(temp, tt["canthus"] - 0.3)
    temp += reg["canthi"] * (tt["canthus"] - temp)
    skin_like = np.maximum(reg["head"], np.maximum(reg["ears"], reg["neck"]))
    body = np.where(reg["ears"] > reg["head"], tt["ear"], temp)
    body = np.where((reg["neck"] > 0) & (reg["head"] < 0.5), tt["neck"], body)
    hair_temp = cap.ambient_c + ident.thermal["hair_insulation"] * (tt["forehead"] - cap.ambient_c)
    out = cap.ambient_c + skin_like * (body - cap.ambient_c)
    out += reg["hair"] * (hair_temp - out)
    out += reg["torso"] * (1 - skin_like) * (tt["torso"] - out)
    # skin emissivity falls at grazing view angles (≈0.98 → 0.93 at the limb)
    eps = np.where(skin_like > 0.5, 0.98 - 0.05 * (1.0 - cos_t) ** 3, 0.95)
    return out.astype(np.float64), eps


@lru_cache(maxsize=64)
def _sensor_unit(cfg: GeneratorConfig, seed: int, sensor: int) -> tuple[float, float, np.ndarray]:
    """Gain error, factory offset and fixed-pattern noise of one sensor unit (fixed for its life)."""
    rng = np.random.default_rng([seed, 2, sensor])
    h, w = cfg.thermal.height, cfg.thermal.width
    gain = rng.uniform(-cfg.gain_error, cfg.gain_error)
    offset0 = rng.uniform(-cfg.offset_range_c, cfg.offset_range_c)
    fpn = rng.normal(0, cfg.fpn_pixel_c, (h, w)) + rng.normal(0, cfg.fpn_column_c, (1, w))
    fpn.setflags(write=False)
    return gain, offset0, fpn


def _sensor_state(
    cfg: GeneratorConfig, seed: int, sensor: int, epoch: int
) -> tuple[float, float, np.ndarray]:
    """Gain error, offset (at this FFC epoch) and fixed-pattern noise of sensor ``sensor``."""
    gain, offset0, fpn = _sensor_unit(cfg, seed, sensor)
    h, w = fpn.shape
    ep = np.random.default_rng([seed, 3, sensor, epoch])
    offset = offset0 + ep.normal(0, cfg.ffc_jump_c)
    fpn = fpn + ep.normal(0, cfg.fpn_pixel_c / 2, (h, w))  # each FFC leaves a new residual
    return gain, offset, fpn


@lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    ys.setflags(write=False)
    xs.setflags(write=False)
    return ys, xs


class ThermalFaceGenerator:
    """Deterministic population of synthetic people and their radiometric captures.

    Args:
        seed: population seed; identities and frames are functions of (seed, index) only.
        config: physical parameters (defaults documented in docs/thermal.md).
        split: ``"train"`` or ``"heldout"``: picks the ambient bands and the sensor units.
    """

    def __init__(self, seed: int = 0, config: GeneratorConfig | None = None, split: str = "train") -> None:
        if split not in AMBIENT_BANDS:
            raise ConfigError(f"unknown split {split!r}; valid: {', '.join(AMBIENT_BANDS)}")
        self.seed = seed
        self.config = config or GeneratorConfig()
        self.split = split
        self._identities: dict[int, Identity] = {}

    def identity(self, index: int) -> Identity:
        if index not in self._identities:
            self._identities[index] = make_identity(index, self.seed)
        return self._identities[index]

    def draw_capture(self, identity: int, index: int) -> Capture:
        """The conditions of capture ``index`` of person ``identity`` (deterministic)."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, 4, identity, index, 0 if self.split == "train" else 1])
        bands = AMBIENT_BANDS[self.split]
        widths = np.array([b[1] - b[0] for b in bands])
        band = bands[int(rng.choice(len(bands), p=widths / widths.sum()))]
        core = self.identity(identity).baseline_core_c + rng.normal(0, 0.15)
        if rng.random() < cfg.fever_fraction:
            core += rng.uniform(0.6, 2.5)
        n = cfg.n_sensors
        sensor = int(rng.integers(0, n)) + (0 if self.split == "train" else n)
        return Capture(
            core_c=float(core),
            ambient_c=float(rng.uniform(*band)),
            distance_m=float(rng.uniform(*cfg.distance_range_m)),
            yaw=math.radians(rng.uniform(-20, 20)),
            pitch=math.radians(rng.uniform(-10, 10)),
            roll=math.radians(rng.uniform(-8, 8)),
            offset_x_m=float(rng.uniform(-0.08, 0.08)),
            offset_y_m=float(rng.uniform(-0.03, 0.05)),
            sensor=sensor,
            t_since_ffc_s=float(rng.uniform(0, cfg.ffc_period_s)),
            ffc_epoch=int(rng.integers(0, 10_000)),
            light_dir=(float(rng.uniform(-0.7, 0.7)), float(rng.uniform(-0.6, 0.3))),
            acclimation_c=float(rng.normal(0, 0.3)),
            canthus_jitter_c=float(rng.normal(0, 0.05)),
        )

    # -- projections -----------------------------------------------------------------------
    def _project(self, cam: CameraConfig, cap: Capture, u: float, v: float) -> tuple[float, float]:
        """Pixel of face point (u, v) on the head's front surface (the forward of _face_coords)."""
        cr, sr = math.cos(cap.roll), math.sin(cap.roll)
        x1 = u * math.cos(cap.yaw) + 0.08 * math.sin(cap.yaw)
        y1 = v * math.cos(cap.pitch) + 0.08 * math.sin(cap.pitch)
        x_m, y_m = cr * x1 - sr * y1, sr * x1 + cr * y1
        f = cam.focal_px
        return (
            (x_m + cap.offset_x_m - cam.baseline_m) * f / cap.distance_m + cam.width / 2.0,
            (y_m + cap.offset_y_m) * f / cap.distance_m + cam.height / 2.0,
        )

    def face_box(self, cam: CameraConfig, ident: Identity, cap: Capture) -> tuple[float, float, float, float]:
        """Box from the hairline/forehead top to the chin and ear to ear, in ``cam`` pixels."""
        g = ident.geom
        corners = [
            self._project(cam, cap, su * g["head_hw"], sv * g["head_hh"]) for su in (-1, 1) for sv in (-1, 1)
        ]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        return (min(xs), min(ys), max(xs), max(ys))

    # -- rendering -------------------------------------------------------------------------
    def render_thermal(self, ident: Identity, cap: Capture) -> tuple[np.ndarray, dict]:
        """The sensor's Y16 frame (centi-kelvin) and the facts needed for ground truth."""
        cfg = self.config
        cam = cfg.thermal
        ys, xs = _pixel_grid(cam.height, cam.width)
        temp = np.full((cam.height, cam.width), cap.ambient_c)
        eps = np.full_like(temp, cfg.background_emissivity)
        box = self.face_box(cam, ident, cap)
        for grow, detail in ((0.75, False), (0.2, True)):  # body and room first, then the head
            margin = grow * (box[2] - box[0])
            x0, y0 = max(int(box[0] - margin), 0), max(int(box[1] - margin), 0)
            x1 = min(int(box[2] + margin) + 1, cam.width)
            y1 = cam.height if not detail else min(int(box[3] + margin) + 1, cam.height)
            win = (slice(y0, y1), slice(x0, x1))
            temp[win], eps[win] = thermal_scene(ident, cap, cam, xs[win], ys[win], detail)
        # in-scene blackbody: a disc at a fixed distance, at its (slightly unstable) set point
        bb_rng = np.random.default_rng([self.seed, 5, cap.sensor, cap.ffc_epoch])
        bb_true = cfg.blackbody_set_c + bb_rng.normal(0, cfg.blackbody_stability_c)
        bb_r = cam.focal_px * cfg.blackbody_half_m / cfg.blackbody_distance_m
        bx, by = cfg.blackbody_center_px
        disc = (np.abs(xs - bx) <= bb_r) & (np.abs(ys - by) <= bb_r)
        temp[disc], eps[disc] = bb_true, cfg.blackbody_emissivity
        dist = np.where(disc, cfg.blackbody_distance_m, cap.distance_m)
        # grey body + reflections of the room, then the air path, in radiance
        refl = band_radiance(cap.ambient_c)
        tau = np.exp(-cfg.atmosphere_per_m * dist)
        radiance = tau * (eps * band_radiance(temp) + (1 - eps) * refl) + (1 - tau) * refl
        sigma = cfg.psf_sigma_px + cfg.defocus_px_per_m * abs(cap.distance_m - cfg.focus_distance_m)
        radiance = cv2.GaussianBlur(radiance, (0, 0), sigma)
        apparent = radiance_to_celsius(radiance)
        # sensor: gain error about the shutter temperature, offset + drift since the last FFC, FPN, NETD
        gain, offset, fpn = _sensor_state(cfg, self.seed, cap.sensor, cap.ffc_epoch)
        shutter_c = cap.ambient_c + 8.0
        drift = cfg.drift_c_per_min * (cap.t_since_ffc_s / 60.0) * math.copysign(1.0, gain if gain else 1.0)
        noise_rng = np.random.default_rng(
            [self.seed, 6, ident.index, cap.ffc_epoch, int(cap.t_since_ffc_s * 1e3)]
        )
        reading = apparent + gain * (apparent - shutter_c) + offset + drift + fpn
        reading += noise_rng.normal(0, cfg.netd_c, reading.shape)
        inner = int(bb_r) - 2  # stay clear of the blurred edge: the ROI must be uniform
        bb_box = (int(bx) - inner, int(by) - inner, 2 * inner + 1, 2 * inner + 1)
        facts = {"bb_box": bb_box, "bb_true_c": bb_true, "face_box": box, "sensor_offset_c": offset + drift}
        return celsius_to_centikelvin(reading), facts

    def render_rgb(
        self, ident: Identity, cap: Capture, cam: CameraConfig | None = None, window=None, size=None
    ):
        """RGB image of the same face from the side camera.

        ``window`` (x0, y0, x1, y1 in ``cam`` pixels) and ``size`` (w, h) render just a crop,
        resampled to ``size``; by default the whole frame.
        """
        cam = cam or self.config.rgb
        x0, y0, x1, y1 = window or (0, 0, cam.width, cam.height)
        w, h = size or (int(x1 - x0), int(y1 - y0))
        xs = np.linspace(x0, x1, w, endpoint=False)[None, :] + (x1 - x0) / (2 * w)
        ys = np.linspace(y0, y1, h, endpoint=False)[:, None] + (y1 - y0) / (2 * h)
        xs, ys = np.broadcast_to(xs, (h, w)), np.broadcast_to(ys, (h, w))
        u, v, cos_t = _face_coords(xs, ys, cam, cap, ident.geom)
        reg = _regions(u, v, ident)
        c = {k: np.array(val) for k, val in ident.colors.items()}
        rng = np.random.default_rng([self.seed, 7, ident.index, cap.ffc_epoch])
        img = np.broadcast_to(rng.uniform(0.2, 0.8, 3), (h, w, 3)).copy()
        skin_like = np.maximum(reg["head"], np.maximum(reg["ears"], reg["neck"]))[..., None]
        lx, ly = cap.light_dir
        shade = np.clip(
            0.55
            + 0.45 * (cos_t + lx * u / ident.geom["head_hw"] * 0.6 + ly * v / ident.geom["head_hh"] * 0.6),
            0.2,
            1.2,
        )
        img = img * (1 - skin_like) + skin_like * c["skin"] * shade[..., None]
        img = (
            img * (1 - reg["torso"][..., None] * (1 - skin_like))
            + reg["torso"][..., None] * (1 - skin_like) * c["shirt"]
        )
        for key, colour in (("brows", c["hair"]), ("mouth", c["lips"]), ("hair", c["hair"])):
            m = reg[key][..., None]
            img = img * (1 - m) + m * colour * shade[..., None]
        eyes = reg["eyes"][..., None]
        img = img * (1 - eyes) + eyes * np.array([0.9, 0.9, 0.88])
        lay = _layout(ident.geom)
        for sx in (-1, 1):
            iris = _ellipse(u, v, sx * ident.geom["eye_dx"], lay["eye_y"], 0.0055, 0.0055)[..., None] * eyes
            img = img * (1 - iris) + iris * c["iris"]
        nostril = _gauss(u, v, -0.006, lay["nose_tip"] + 0.002, 0.003, 0.002) + _gauss(
            u, v, 0.006, lay["nose_tip"] + 0.002, 0.003, 0.002
        )
        img *= (1 - 0.5 * np.clip(nostril, 0, 1) * reg["head"])[..., None]
        img += rng.normal(0, 0.02, img.shape)
        return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)

    def sample(self, identity: int, index: int, with_rgb: bool = True) -> ThermalSample:
        """Capture ``index`` of person ``identity``: Y16 frame, paired RGB frame and ground truth."""
        ident = self.identity(identity)
        cap = self.draw_capture(identity, index)
        frame, facts = self.render_thermal(ident, cap)
        lay = _layout(ident.geom)
        canthi = np.array(
            [
                self._project(self.config.thermal, cap, sx * lay["canthus_x"], lay["canthus_y"])
                for sx in (-1, 1)
            ]
        )
        tt = _skin_targets(ident, cap)
        rgb_box = self.face_box(self.config.rgb, ident, cap)
        cfg = self.config
        return ThermalSample(
            frame_ck=frame,
            rgb=self.render_rgb(ident, cap) if with_rgb else None,
            identity=identity,
            core_c=cap.core_c,
            skin_c=float(tt["canthus"]),
            ambient_c=cap.ambient_c,
            distance_m=cap.distance_m,
            face_box=facts["face_box"],
            face_box_rgb=rgb_box,
            canthi_px=canthi,
            blackbody_box=facts["bb_box"],
            blackbody_set_c=cfg.blackbody_set_c,
            meta={
                "ambient_c": cap.ambient_c,
                "reflected_c": cap.ambient_c,
                "blackbody_true_c": facts["bb_true_c"],
                "sensor": cap.sensor,
                "sensor_offset_c": facts["sensor_offset_c"],
                "t_since_ffc_s": cap.t_since_ffc_s,
                "ffc_in_progress": cap.t_since_ffc_s < cfg.ffc_freeze_s,
            },
        )
