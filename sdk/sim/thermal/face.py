"""Synthetic people: face geometry, thermal signature, pose, and the skin temperature field."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...capture.radiometry import SKIN_EMISSIVITY
from .physics import CameraConfig

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
    ident: Identity,
    cap: Capture,
    cam: CameraConfig,
    xs,
    ys,
    detail: bool = True,
    skin_eps: float = SKIN_EMISSIVITY,
    other_eps: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """True surface temperature (°C) and emissivity at pixel centres ``xs, ys`` of the thermal camera.

    ``detail=False`` renders only what lies outside the head (neck, clothing, room), cheaply.
    Skin emissivity falls at grazing view angles (0.98 → 0.93 at the limb of the head).
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
    eps = np.where(skin_like > 0.5, skin_eps - 0.05 * (1.0 - cos_t) ** 3, other_eps)
    return out.astype(np.float64), eps
