"""Deterministic scene renderers behind ``synthetic://`` (drawn with OpenCV, seeded).

Each ``render_*(index, seed, width, height, ...)`` returns ``(image, truth)``; the image for a
given (seed, index) is always the same, so a test can ask for frame 37 and know what is in it.

* face: a textured face sprite moving over a cluttered background, drifting in and out of
  focus; ``truth["blur_sigma"]`` is the Gaussian blur applied to that frame (0 = sharp).
* thermal: a Lepton-like 160×120 radiometric scene in centi-kelvin (Y16) with a face at a known
  skin temperature, a blackbody at a known set point and a cooler second reference; the
  simulated sensor has an offset/gain error, a slow offset drift, 50 mK noise and periodic FFC
  freezes, all reported in ``truth``.
* xray: a palm-like radiograph (soft tissue, metacarpals, phalanges with joint gaps, carpals),
  16-bit with dense = bright, as a detector's MONOCHROME2 export.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Dict

import cv2
import numpy as np

from .radiometry import KELVIN, SKIN_EMISSIVITY, apparent_temperature

Truth = Dict[str, Any]


# ----------------------------------------------------------------------------- face
@functools.lru_cache(maxsize=4)
def _face_assets(seed: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(60, 170, width, dtype=np.float32)[None, :, None]
    bg = np.broadcast_to(ramp * np.array([0.9, 1.0, 1.1], np.float32), (height, width, 3)).astype(np.uint8)
    bg = np.ascontiguousarray(bg)
    for _ in range(40):  # clutter: shelves, posters, door frames
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(10, width // 4)), int(rng.integers(10, height // 4))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        cv2.rectangle(bg, (x, y), (x + w, y + h), colour, -1 if rng.random() < 0.6 else 2)
    fh = max(24, int(height * 0.42))
    fw = int(fh * 0.76)
    sprite = np.zeros((fh, fw, 3), np.uint8)
    mask = np.zeros((fh, fw), np.uint8)
    centre, axes = (fw // 2, fh // 2), (fw // 2 - 1, fh // 2 - 1)
    tone = np.array([90, 140, 200], np.float32) * (0.7 + 0.3 * rng.random())
    cv2.ellipse(sprite, centre, axes, 0, 0, 360, tuple(float(c) for c in tone), -1)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
    skin = sprite.astype(np.int16) + rng.integers(-14, 15, (fh, fw, 1), dtype=np.int16)  # pores: fine detail
    sprite = np.clip(skin, 0, 255).astype(np.uint8)
    cv2.ellipse(sprite, (fw // 2, fh // 8), (fw // 2 - 1, fh // 7), 0, 180, 360, (30, 30, 40), -1)  # hair
    for i in range(0, fw, 3):
        cv2.line(sprite, (i, 0), (i + int(rng.integers(-4, 5)), fh // 6), (15, 15, 25), 1)
    for ex in (fw // 3, 2 * fw // 3):  # eyes, brows
        cv2.ellipse(sprite, (ex, int(fh * 0.42)), (fw // 10, fh // 28), 0, 0, 360, (235, 235, 235), -1)
        cv2.circle(sprite, (ex, int(fh * 0.42)), max(2, fh // 30), (60, 40, 20), -1)
        cv2.circle(sprite, (ex, int(fh * 0.42)), max(1, fh // 70), (0, 0, 0), -1)
        cv2.line(sprite, (ex - fw // 9, int(fh * 0.35)), (ex + fw // 9, int(fh * 0.34)), (25, 25, 35), 3)
    cv2.line(sprite, (fw // 2, int(fh * 0.45)), (fw // 2 - fw // 16, int(fh * 0.62)), (60, 90, 140), 2)
    cv2.ellipse(sprite, (fw // 2, int(fh * 0.74)), (fw // 6, fh // 22), 0, 0, 180, (40, 40, 150), 3)
    return bg, sprite, mask > 0


def render_face(
    index: int,
    seed: int = 0,
    width: int = 640,
    height: int = 480,
    max_blur: float = 4.0,
    blur_period: int = 60,
) -> tuple[np.ndarray, Truth]:
    """A bgr8 frame with a face moving over clutter and blurring in and out of focus."""
    bg, sprite, mask = _face_assets(seed, width, height)
    phase = (seed * 0.618) % 1.0
    fh, fw = mask.shape
    cx = width / 2 + 0.3 * (width - fw) * math.sin(2 * math.pi * (index / 150.0 + phase))
    cy = height / 2 + 0.25 * (height - fh) * math.sin(2 * math.pi * (index / 97.0 + phase))
    x0 = int(min(max(cx - fw / 2, 0), width - fw))
    y0 = int(min(max(cy - fh / 2, 0), height - fh))
    sigma = 0.5 * max_blur * (1.0 - math.cos(2 * math.pi * (index / float(blur_period) + phase)))
    image = bg.copy()
    np.copyto(image[y0 : y0 + fh, x0 : x0 + fw], sprite, where=mask[:, :, None])
    if sigma >= 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    truth = {"scene": "face", "index": index, "seed": seed, "blur_sigma": sigma, "face_box": [x0, y0, fw, fh]}
    return image, truth


# ----------------------------------------------------------------------------- thermal
@functools.lru_cache(maxsize=4)
def _thermal_object_map(seed: int, width: int, height: int, skin_c: float, ambient_c: float) -> np.ndarray:
    """Object temperature of the face template (°C, NaN outside the head), head-sized crop."""
    fh, fw = int(height * 0.62), int(height * 0.46)
    obj = np.full((fh, fw), np.nan, np.float32)
    cv2.ellipse(obj, (fw // 2, fh // 2), (fw // 2 - 1, fh // 2 - 1), 0, 0, 360, skin_c, -1)
    cv2.ellipse(obj, (fw // 2, fh // 9), (fw // 2 - 1, fh // 7), 0, 180, 360, ambient_c + 6.0, -1)  # hair
    cv2.ellipse(obj, (fw // 2, int(fh * 0.62)), (fw // 12, fh // 10), 0, 0, 360, skin_c - 1.5, -1)  # nose
    for ex in (fw // 3, 2 * fw // 3):
        cv2.ellipse(obj, (ex, int(fh * 0.42)), (fw // 9, fh // 30), 0, 0, 360, skin_c - 0.6, -1)  # eye
        inner = ex + (fw // 9 if ex < fw // 2 else -fw // 9)
        cv2.circle(obj, (inner, int(fh * 0.42)), 1, skin_c + 1.0, -1)  # inner canthus: hottest
    return obj


def thermal_layout(width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    """Where the references sit in a synthetic thermal frame (x, y, w, h)."""
    s = max(4, width // 14)
    return {"blackbody": (width - s - 4, height - s - 4, s, s), "reference2": (width - s - 4, 4, s, s)}


def render_thermal(
    index: int,
    seed: int = 0,
    width: int = 160,
    height: int = 120,
    skin_c: float = 34.5,
    ambient_c: float = 22.0,
    blackbody_c: float = 35.0,
    reference2_c: float = 25.0,
    sensor_offset_c: float = 1.8,
    sensor_gain: float = 0.97,
    drift_c_per_frame: float = 0.0005,
    noise_c: float = 0.05,
    ffc_period: int = 270,
    ffc_frames: int = 4,
) -> tuple[np.ndarray, Truth]:
    """A y16 centi-kelvin frame (what a Lepton in TLinear mode sends) and its ground truth."""
    ffc = ffc_period > 0 and index >= ffc_period and index % ffc_period < ffc_frames
    source_index = index - index % ffc_period - 1 if ffc else index  # frozen: repeats the last live frame
    obj = _thermal_object_map(seed, width, height, skin_c, ambient_c)
    rng = np.random.default_rng((seed, source_index))
    scene = np.full((height, width), ambient_c, np.float32)
    scene += np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]  # warm wall on one side
    fh, fw = obj.shape
    x0 = int((width - fw) / 2 - width * 0.12 + 3 * math.sin(source_index / 23.0 + seed))
    y0 = int((height - fh) / 2 + 2 * math.sin(source_index / 31.0))
    face = scene[y0 : y0 + fh, x0 : x0 + fw]
    skin = ~np.isnan(obj)
    face[skin] = apparent_temperature(obj[skin], SKIN_EMISSIVITY, ambient_c)
    layout = thermal_layout(width, height)
    for key, temp in (("blackbody", blackbody_c), ("reference2", reference2_c)):
        x, y, w, h = layout[key]
        scene[y : y + h, x : x + w] = temp  # emissivity ~1 reference sources
    offset = sensor_offset_c + drift_c_per_frame * source_index
    measured = sensor_gain * scene + offset + rng.normal(0.0, noise_c, scene.shape).astype(np.float32)
    raw = np.clip(np.rint((measured + KELVIN) * 100.0), 0, 65535).astype(np.uint16)
    truth = {
        "scene": "thermal",
        "index": index,
        "seed": seed,
        "skin_c": skin_c,
        "canthus_c": skin_c + 1.0,
        "skin_apparent_c": float(apparent_temperature(np.float32(skin_c), SKIN_EMISSIVITY, ambient_c)),
        "skin_emissivity": SKIN_EMISSIVITY,
        "ambient_c": ambient_c,
        "blackbody_c": blackbody_c,
        "blackbody_roi": list(layout["blackbody"]),
        "reference2_c": reference2_c,
        "reference2_roi": list(layout["reference2"]),
        "sensor_offset_c": offset,
        "sensor_gain": sensor_gain,
        "face_box": [x0, y0, fw, fh],
        "ffc": bool(ffc),
    }
    return raw, truth


# ----------------------------------------------------------------------------- x-ray
def _capsule(
    img: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], width: float, value: float
) -> None:
    a = (round(p0[0]), round(p0[1]))
    b = (round(p1[0]), round(p1[1]))
    cv2.line(img, a, b, value, max(1, round(width)), cv2.LINE_AA)
    for p in (a, b):
        cv2.circle(img, p, max(1, round(width / 2)), value, -1, cv2.LINE_AA)


@functools.lru_cache(maxsize=4)
def _palm_attenuation(seed: int, width: int, height: int) -> tuple[np.ndarray, Truth]:
    rng = np.random.default_rng(seed)
    s = min(width / 480.0, height / 600.0)
    tissue = np.zeros((height, width), np.float32)
    bone = np.zeros((height, width), np.float32)
    wrist = (width * 0.5, height * 0.95)
    palm_c = (width * 0.5, height * 0.62)
    cv2.ellipse(tissue, (int(palm_c[0]), int(palm_c[1])), (int(115 * s), int(125 * s)), 0, 0, 360, 1.0, -1)
    _capsule(tissue, wrist, palm_c, 150 * s, 1.0)
    angles = [-62, -22, -7, 8, 23]  # thumb … little finger, degrees from vertical
    lengths = [(70, 45, 0), (75, 45, 32), (82, 52, 34), (78, 48, 32), (62, 38, 28)]
    joints = 0
    for k, (ang, segs) in enumerate(zip(angles, lengths)):
        ang = math.radians(ang + rng.normal(0, 2))
        dx, dy = math.sin(ang), -math.cos(ang)
        base = (
            palm_c[0] + (k - 2) * 38 * s + (30 * s if k == 0 else 0),
            palm_c[1] - 40 * s if k else palm_c[1] + 10 * s,
        )
        meta_start = (wrist[0] + (k - 2) * 18 * s, height * 0.80)
        _capsule(bone, meta_start, base, 14 * s, 1.0)  # metacarpal
        joints += 1
        tip = base
        for seg in segs:
            if not seg:
                continue
            start = (
                tip[0] + dx * 18 * s,
                tip[1] + dy * 18 * s,
            )  # joint gap (past the rounded ends): soft tissue
            tip = (start[0] + dx * seg * s, start[1] + dy * seg * s)
            _capsule(bone, start, tip, (12 - 2 * (seg < 40)) * s, 1.0)
            joints += 1
        finger_end = (tip[0] + dx * 10 * s, tip[1] + dy * 10 * s)
        _capsule(tissue, base, finger_end, 30 * s, 1.0)
    for _ in range(8):  # carpals
        cx = wrist[0] + rng.uniform(-45, 45) * s
        cy = height * 0.84 + rng.uniform(-12, 12) * s
        cv2.ellipse(
            bone, (int(cx), int(cy)), (int(14 * s), int(11 * s)), float(rng.uniform(0, 180)), 0, 360, 1.0, -1
        )
    atten = cv2.GaussianBlur(tissue, (0, 0), 3 * s) * 0.45 + cv2.GaussianBlur(bone, (0, 0), 1.2 * s) * 1.1
    ys, xs = np.nonzero(tissue > 0.5)
    truth = {
        "hand_box": [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1],
        "joints": joints,
    }
    return atten, truth


def render_xray(index: int, seed: int = 0, width: int = 480, height: int = 600) -> tuple[np.ndarray, Truth]:
    """An xray16 palm radiograph (dense = bright) with small per-frame pose changes and quantum noise."""
    atten, hand = _palm_attenuation(seed, width, height)
    rng = np.random.default_rng((seed, index))
    angle = 3.0 * math.sin(index / 5.0 + seed)
    shift = (4.0 * math.sin(index / 7.0), 3.0 * math.cos(index / 9.0))
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    m[:, 2] += shift
    posed = cv2.warpAffine(atten, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0)
    photons = 4000.0 * np.exp(-posed)  # detected quanta per pixel
    counts = rng.poisson(photons).astype(np.float32)
    image = np.clip((1.0 - counts / 4000.0) * 60000.0 + 2000.0, 0, 65535).astype(np.uint16)
    truth = dict(hand, scene="xray", index=index, seed=seed, angle_deg=angle, shift_px=list(shift))
    return image, truth
