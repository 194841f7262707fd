"""The Lepton-like thermal scene of ``synthetic://thermal`` and the kiosk walk-up.

:func:`render_thermal` draws a 160×120 radiometric scene in centi-kelvin (Y16, what a Lepton in
TLinear mode sends): a face template at a known skin temperature (inner canthus 1 °C warmer), a
blackbody at a known set point and a cooler second reference (:func:`thermal_layout`), seen by a
sensor with an offset/gain error, a slow offset drift, 50 mK noise and periodic FFC freezes, all
reported in the returned truth. Skin is a grey body (:data:`~biogate.capture.radiometry.SKIN_EMISSIVITY`)
reflecting the room. It is the quick scene for streams; the physically based face generator for
training data is :class:`~biogate.sim.thermal.ThermalFaceGenerator`. Both render through one
exposure chain, :func:`~biogate.sim.thermal.physics.expose` (grey-body radiance in the 8–14 µm
band, sensor gain/offset/noise, Y16); this scene has no optics blur, no air path and no
fixed-pattern noise.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Dict

import cv2
import numpy as np

from ...capture.radiometry import SKIN_EMISSIVITY
from .physics import expose, radiance_to_celsius, seen_radiance

Truth = Dict[str, Any]


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
    emissivity = np.ones_like(scene)  # the wall and the references: emissivity ~1
    fh, fw = obj.shape
    x0 = int((width - fw) / 2 - width * 0.12 + 3 * math.sin(source_index / 23.0 + seed))
    y0 = int((height - fh) / 2 + 2 * math.sin(source_index / 31.0))
    skin = ~np.isnan(obj)
    scene[y0 : y0 + fh, x0 : x0 + fw][skin] = obj[skin]
    emissivity[y0 : y0 + fh, x0 : x0 + fw][skin] = SKIN_EMISSIVITY  # grey body reflecting the room
    layout = thermal_layout(width, height)
    for key, temp in (("blackbody", blackbody_c), ("reference2", reference2_c)):
        x, y, w, h = layout[key]
        scene[y : y + h, x : x + w] = temp
    offset = sensor_offset_c + drift_c_per_frame * source_index
    raw = expose(
        scene,
        emissivity,
        ambient_c,
        gain_error=sensor_gain - 1.0,  # about 0 °C: reading = gain × apparent + offset
        offset_c=offset,
        noise=rng.normal(0.0, noise_c, scene.shape).astype(np.float32),
    )
    truth = {
        "scene": "thermal",
        "index": index,
        "seed": seed,
        "skin_c": skin_c,
        "canthus_c": skin_c + 1.0,
        "skin_apparent_c": float(radiance_to_celsius(seen_radiance(skin_c, SKIN_EMISSIVITY, ambient_c))),
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


__all__ = ["render_thermal", "thermal_layout"]
