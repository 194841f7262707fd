"""Model-free thermal face measurement: the radiometric chain, face boxes, crops, canthus and skin.

What :class:`biogate.models.thermal.ThermalFace` does to a frame before (and beside) its network:
``y16``/``celsius32`` → object temperature (:func:`to_object_celsius`: blackbody, emissivity and
reflected-temperature correction), face boxes from thermal segmentation (:func:`find_faces`) or
RGB boxes mapped through a calibrated homography (:func:`calibrate_homography`,
:func:`map_boxes`), the network's normalised crop (:func:`crop_face`), the canthus-region maximum
(:func:`canthus_estimate`) and the share of the face reading as living skin
(:func:`skin_fraction`). Device side: numpy and OpenCV.
"""

from __future__ import annotations

from typing import Any, Sequence, Tuple

import cv2
import numpy as np

from ..capture.radiometry import (
    SKIN_EMISSIVITY,
    BlackbodyReference,
    apparent_temperature,
    centikelvin_to_celsius,
    fit_blackbody,
    object_temperature,
)
from ..errors import ConfigError
from ..frame import Frame

#: Side of the square face crop the network takes (pixels) and its °C normalisation.
CROP_SIZE = 64
CROP_MEAN_C = 33.0
CROP_SCALE_C = 4.0

Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 in thermal-frame pixels


# ----------------------------------------------------------------------------- radiometric chain
def to_object_celsius(
    frame: Frame,
    emissivity: float = SKIN_EMISSIVITY,
    reflected_c: float | None = None,
    blackbody: BlackbodyReference | Sequence[BlackbodyReference] | None = None,
    blackbody_emissivity: float = 0.99,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The object-temperature map (°C, float32) of a thermal frame and what was done to it.

    ``y16`` frames are centi-kelvin (Lepton TLinear); ``celsius32`` frames come from a driver
    that may already have applied blackbody and emissivity correction (its ``meta`` says so).
    ``blackbody`` is a reference at a known set point, or two at different set points (offset and
    gain); a reference's apparent temperature (what an ε = 1
    camera reads for a ``blackbody_emissivity`` source reflecting the room) is what the sensor
    reading is pulled to, so a slightly grey reference does not bias every face.
    """
    meta = frame.meta or {}
    if reflected_c is None:
        reflected_c = float(meta.get("reflected_c", meta.get("ambient_c", 22.0)))
    facts: dict[str, Any] = {"reflected_c": reflected_c, "blackbody_corrected": False}
    if frame.format == "y16":
        celsius = centikelvin_to_celsius(frame.image)
        driver_emissivity = 1.0
    elif frame.format == "celsius32":
        celsius = np.array(frame.image, dtype=np.float32)
        driver_emissivity = float(meta.get("emissivity", 1.0))
        bb = meta.get("blackbody")
        facts["blackbody_corrected"] = bool(isinstance(bb, dict) and bb.get("ok"))
    else:
        raise ConfigError(
            f"ThermalFace needs a 'y16' or 'celsius32' frame from {frame.source!r}, got {frame.format!r}"
        )
    refs = [blackbody] if isinstance(blackbody, BlackbodyReference) else list(blackbody or [])
    if refs and not facts["blackbody_corrected"]:
        if driver_emissivity != 1.0:
            raise ConfigError(
                f"frame from {frame.source!r} is already emissivity-corrected; "
                "configure the blackbody on the source instead"
            )
        apparent = [
            BlackbodyReference(
                r.roi,
                float(apparent_temperature(np.float32(r.setpoint_c), blackbody_emissivity, reflected_c)),
            )
            for r in refs
        ]
        fit = fit_blackbody(celsius, apparent)
        facts["blackbody"] = fit.as_meta()
        if fit.ok:
            celsius = fit.apply(celsius, out=celsius)
            facts["blackbody_corrected"] = True
    if driver_emissivity == 1.0 and emissivity != 1.0:
        celsius = object_temperature(celsius, emissivity, reflected_c)
    return celsius.astype(np.float32, copy=False), facts


# ----------------------------------------------------------------------------------- face boxes
def find_faces(
    celsius: np.ndarray,
    min_skin_c: float = 30.0,
    above_background_c: float = 4.0,
    min_side_px: int = 16,
    exclude: Sequence[tuple[int, int, int, int]] = (),
) -> list[Box]:
    """Square face boxes from skin-temperature segmentation (largest first).

    Pixels warmer than ``max(min_skin_c, median + above_background_c)`` and below 43 °C are skin
    (faces, necks, ears; hair and clothing stay cooler). Each blob's upper part gives the face:
    the box is 1.15× the blob's typical width, square, starting just above the blob top.
    ``exclude`` masks ``(x, y, w, h)`` regions such as the blackbody.
    """
    thr = max(min_skin_c, float(np.median(celsius)) + above_background_c)
    mask = ((celsius > thr) & (celsius < 43.0)).astype(np.uint8)
    for x, y, w, h in exclude:
        mask[max(y - 2, 0) : y + h + 2, max(x - 2, 0) : x + w + 2] = 0
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes: list[tuple[int, Box]] = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if w < min_side_px or h < min_side_px:
            continue
        blob = labels[y : y + h, x : x + w] == label
        widths = blob.sum(axis=1)
        upper = widths[: max(int(0.7 * h), 1)]
        width = float(np.percentile(upper, 90))
        rows = np.nonzero(upper > 0.5 * width)[0]
        cols = np.nonzero(blob[rows].any(axis=0))[0] if rows.size else np.arange(w)
        cx = x + 0.5 * (cols[0] + cols[-1] + 1)
        side = 1.15 * width
        top = y - 0.05 * side
        boxes.append((area, (cx - side / 2, top, cx + side / 2, top + side)))
    boxes.sort(key=lambda item: -item[0])
    return [b for _, b in boxes]


def calibrate_homography(rgb_points: np.ndarray, thermal_points: np.ndarray) -> np.ndarray:
    """3×3 RGB→thermal homography from ≥ 4 matched points of a planar target (RANSAC).

    Use a heated checkerboard or warm markers at the screening distance: the map is exact for
    that plane and, for cameras on one horizontal line, off by the parallax ``f·b·(1/d − 1/d0)``
    pixels at other distances ``d``.
    """
    src = np.asarray(rgb_points, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(thermal_points, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or src.shape[0] < 4:
        raise ConfigError(f"homography needs >= 4 matched point pairs, got {src.shape[0]} and {dst.shape[0]}")
    matrix, _ = cv2.findHomography(src, dst, cv2.RANSAC, 2.0)
    if matrix is None:
        raise ConfigError("homography calibration failed: the points are degenerate (collinear or repeated)")
    return matrix


def map_boxes(boxes: Sequence[Box], homography: np.ndarray) -> list[Box]:
    """RGB-frame boxes to thermal-frame boxes through ``homography`` (bounding box of the corners)."""
    out: list[Box] = []
    for x0, y0, x1, y1 in boxes:
        corners = np.array([[[x0, y0]], [[x1, y0]], [[x0, y1]], [[x1, y1]]], dtype=np.float64)
        mapped = cv2.perspectiveTransform(corners, np.asarray(homography, dtype=np.float64)).reshape(-1, 2)
        out.append(
            (
                float(mapped[:, 0].min()),
                float(mapped[:, 1].min()),
                float(mapped[:, 0].max()),
                float(mapped[:, 1].max()),
            )
        )
    return out


def crop_face(celsius: np.ndarray, box: Box, size: int = CROP_SIZE) -> np.ndarray:
    """The network input: the square box resampled to ``size``², normalised (°C − 33) / 4, NCHW.

    Pixels outside the frame repeat the border (a face at the frame edge still gets a crop).
    """
    x0, y0, x1, _y1 = box
    scale = size / max(x1 - x0, 1e-3)
    matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], dtype=np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(celsius, matrix, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return ((crop - CROP_MEAN_C) / CROP_SCALE_C).astype(np.float32)[None, None]


def canthus_estimate(celsius: np.ndarray, box: Box) -> tuple[float, tuple[int, int]]:
    """Model-free inner-canthus temperature: the warmest 2×2 spot in the eye band of ``box``.

    The canthus is the warmest facial site and tracks core temperature (ISO/TR 13154); a 2×2
    mean halves the upward bias the maximum of noisy pixels has.  Returns (°C, (x, y)).
    """
    x0, y0, x1, _y1 = box
    side = x1 - x0
    h, w = celsius.shape
    r0, r1 = int(max(y0 + 0.15 * side, 0)), int(min(y0 + 0.6 * side, h))
    c0, c1 = int(max(x0 + 0.15 * side, 0)), int(min(x1 - 0.15 * side, w))
    if r1 - r0 < 2 or c1 - c0 < 2:
        raise ConfigError(f"face box {box} leaves no eye region inside the {w}x{h} frame")
    region = celsius[r0:r1, c0:c1]
    spot = (region[:-1, :-1] + region[1:, :-1] + region[:-1, 1:] + region[1:, 1:]) * 0.25
    iy, ix = np.unravel_index(int(np.argmax(spot)), spot.shape)
    return float(spot[iy, ix]), (c0 + int(ix), r0 + int(iy))


#: Living skin, °C (what a face reads where it is not covered); the canthus must be in it too.
SKIN_C = (30.0, 43.0)
#: Share of the face's central area that must read as skin for the face to count as live: a
#: print or mask with holes (cut-out eyes), or one held over part of the face, leaves most of it
#: at room temperature; glasses (opaque to LWIR) cover about a sixth (issue #16,
#: benchmarks/bench_attacks.py: with the canthus alone, cut-eye masks opened 3 of 5 times).
MIN_SKIN_FRACTION = 0.6


def skin_fraction(celsius: np.ndarray, box: Box, skin_c: tuple[float, float] = SKIN_C) -> float:
    """Share of the central area of ``box`` (cheeks, nose, eyes, forehead) that reads as skin.

    The central area is x 20–80 %, y 15–90 % of the box: inside the face for a box from the RGB
    detector mapped through the homography or from :func:`find_faces`, clear of the background
    at the box's corners. Pixels outside the frame count as not skin (fail closed).
    """
    x0, y0, x1, y1 = (float(v) for v in box)  # Python floats: round() gives an int on every numpy
    w, h = x1 - x0, y1 - y0
    c0, c1 = round(x0 + 0.2 * w), round(x0 + 0.8 * w)
    r0, r1 = round(y0 + 0.15 * h), round(y0 + 0.9 * h)
    total = max(c1 - c0, 0) * max(r1 - r0, 0)
    if total == 0:
        return 0.0
    region = celsius[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)]
    return float(np.count_nonzero((region >= skin_c[0]) & (region <= skin_c[1]))) / total
