"""Radiometric helpers for thermal frames: units, emissivity, ROI statistics, blackbody correction.

Pure numpy functions, shared by the thermal drivers (``uvc-thermal://``, ``mlx90640://``,
``synthetic://thermal``) and by the thermal model (``biogate.models.thermal``).

Blackbody correction (IEC 80601-2-59 / ISO/TR 13154 "external temperature reference source"):
a bare Lepton is ±5 °C and an MLX90640 ±2 °C, so a screening terminal keeps a reference
source at a known set point in view. With one reference the frame's *offset* is corrected
(``corrected = measured + (setpoint - reading)``); with two at different set points the *gain*
is corrected too (a line through both readings). :class:`BlackbodyTracker` smooths the fit
over time, rejects readings where the reference is occluded, and reports the drift of the
correction since the first fit.

Emissivity: the camera reports the *apparent* temperature of a perfect emitter. For an object of
emissivity ε reflecting surroundings at T_refl, radiance is ε·T_obj⁴ + (1−ε)·T_refl⁴ (total-
radiation approximation in kelvin; good to ~0.05 °C for skin at ε = 0.98 in the 8–14 µm band
at short range, no atmospheric term).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence, Tuple

import numpy as np

from ..errors import ConfigError

KELVIN = 273.15
#: Emissivity of human skin in the LWIR band (IEC 80601-2-59 / ISO/TR 13154 use 0.98); the one
#: definition, used by the thermal drivers, the thermal model and the simulators.
SKIN_EMISSIVITY = 0.98

Roi = Tuple[int, int, int, int]


def centikelvin_to_celsius(raw: np.ndarray, scale: float = 0.01, out: np.ndarray | None = None) -> np.ndarray:
    """Lepton TLinear counts (``scale`` kelvin per count, 0.01 or 0.1) → float32 °C."""
    out = np.multiply(raw, np.float32(scale), out=out, dtype=np.float32)
    out -= np.float32(KELVIN)
    return out


def celsius_to_centikelvin(celsius: np.ndarray) -> np.ndarray:
    """float °C → uint16 centi-kelvin (for 16-bit PNG storage), clipped to the uint16 range."""
    return np.clip(np.rint((np.asarray(celsius, np.float64) + KELVIN) * 100.0), 0, 65535).astype(np.uint16)


def object_temperature(
    apparent_c: np.ndarray, emissivity: float = SKIN_EMISSIVITY, reflected_c: float = 20.0
) -> np.ndarray:
    """Object temperature (°C) from the apparent temperature a camera reports.

    Solves ε·T_obj⁴ + (1−ε)·T_refl⁴ = T_app⁴ for T_obj (kelvin). ``emissivity=1`` returns the input.
    """
    if not 0.0 < emissivity <= 1.0:
        raise ConfigError(f"emissivity must be in (0, 1], got {emissivity}")
    apparent = np.asarray(apparent_c, dtype=np.float32)
    if emissivity == 1.0:
        return apparent
    t_app4 = (apparent.astype(np.float64) + KELVIN) ** 4
    t_refl4 = (reflected_c + KELVIN) ** 4
    t_obj4 = np.maximum((t_app4 - (1.0 - emissivity) * t_refl4) / emissivity, 0.0)
    return (t_obj4**0.25 - KELVIN).astype(np.float32)


def apparent_temperature(object_c: np.ndarray, emissivity: float, reflected_c: float) -> np.ndarray:
    """Inverse of :func:`object_temperature`: what a perfect radiometer would read (°C)."""
    t_obj4 = (np.asarray(object_c, dtype=np.float64) + KELVIN) ** 4
    t_refl4 = (reflected_c + KELVIN) ** 4
    return ((emissivity * t_obj4 + (1.0 - emissivity) * t_refl4) ** 0.25 - KELVIN).astype(np.float32)


def check_roi(roi: Sequence[int], shape: tuple[int, ...], what: str = "roi") -> Roi:
    """Validate ``(x, y, w, h)`` against an image shape; ConfigError naming ``what`` otherwise."""
    if len(roi) != 4:
        raise ConfigError(f"{what} must be (x, y, w, h), got {roi!r}")
    x, y, w, h = (int(v) for v in roi)
    height, width = shape[:2]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise ConfigError(f"{what} {x},{y},{w},{h} does not fit in a {width}x{height} frame")
    return (x, y, w, h)


def roi_stats(image: np.ndarray, roi: Sequence[int] | None = None) -> dict[str, float]:
    """mean/median/min/max/std/p90 of ``image`` inside ``roi`` (whole image when None)."""
    if roi is not None:
        x, y, w, h = check_roi(roi, image.shape)
        image = image[y : y + h, x : x + w]
    values = np.asarray(image, dtype=np.float32)
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
        "std": float(values.std()),
        "p90": float(np.percentile(values, 90)),
    }


def spot_meter(image: np.ndarray, center: tuple[int, int] | None = None, size: int = 4) -> dict[str, float]:
    """Mean/min/max of a ``size``×``size`` spot (frame centre by default), like the Lepton spotmeter."""
    height, width = image.shape[:2]
    size = max(1, min(size, width, height))
    cx, cy = center if center is not None else (width // 2, height // 2)
    x = int(min(max(cx - size // 2, 0), width - size))
    y = int(min(max(cy - size // 2, 0), height - size))
    stats = roi_stats(image, (x, y, size, size))
    return {"mean": stats["mean"], "min": stats["min"], "max": stats["max"], "roi": [x, y, size, size]}


@dataclass(frozen=True)
class BlackbodyReference:
    """An in-scene reference source: where it is in the frame and its set-point temperature (°C)."""

    roi: Roi
    setpoint_c: float


@dataclass
class BlackbodyFit:
    """A linear correction ``corrected = gain * measured + offset`` and the readings it came from."""

    gain: float = 1.0
    offset_c: float = 0.0
    readings_c: list[float] = field(default_factory=list)
    setpoints_c: list[float] = field(default_factory=list)
    ok: bool = True
    reason: str = ""

    def apply(self, celsius: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Apply the correction to a float32 °C image (in place when ``out is celsius``)."""
        if out is None:
            out = np.empty_like(celsius, dtype=np.float32)
        np.multiply(celsius, np.float32(self.gain), out=out)
        out += np.float32(self.offset_c)
        return out

    def as_meta(self) -> dict[str, Any]:
        return {
            "gain": self.gain,
            "offset_c": self.offset_c,
            "readings_c": list(self.readings_c),
            "setpoints_c": list(self.setpoints_c),
            "ok": self.ok,
            "reason": self.reason,
        }


def fit_blackbody(
    celsius: np.ndarray, references: Sequence[BlackbodyReference], max_std_c: float = 0.5
) -> BlackbodyFit:
    """Fit the offset (one reference) or gain and offset (two or more) from reference ROIs.

    A reference whose ROI is not uniform (std above ``max_std_c``: something stands in front of
    it) makes the fit ``ok=False`` with a reason, and the identity correction is returned.
    """
    if not references:
        raise ConfigError("blackbody correction needs at least one reference (roi, setpoint_c)")
    readings: list[float] = []
    for i, ref in enumerate(references):
        stats = roi_stats(celsius, check_roi(ref.roi, celsius.shape, f"blackbody reference {i} roi"))
        if stats["std"] > max_std_c:
            return BlackbodyFit(
                ok=False, reason=f"reference {i} not uniform (std {stats['std']:.2f} °C > {max_std_c} °C)"
            )
        readings.append(stats["median"])
    setpoints = [float(r.setpoint_c) for r in references]
    if len(references) == 1:
        return BlackbodyFit(1.0, setpoints[0] - readings[0], readings, setpoints)
    spread = max(readings) - min(readings)
    if spread < 1.0 or max(setpoints) - min(setpoints) < 1.0:
        return BlackbodyFit(ok=False, reason="two-point references must differ by at least 1 °C")
    gain, offset = np.polyfit(np.asarray(readings), np.asarray(setpoints), 1)
    return BlackbodyFit(float(gain), float(offset), readings, setpoints)


def blackbody_correct(
    celsius: np.ndarray, references: Sequence[BlackbodyReference], max_std_c: float = 0.5
) -> tuple[np.ndarray, BlackbodyFit]:
    """One-shot correction of one frame: returns (corrected float32 °C image, fit)."""
    fit = fit_blackbody(celsius, references, max_std_c)
    return fit.apply(celsius), fit


class BlackbodyTracker:
    """Blackbody correction over a stream: smoothed fit, occlusion hold and drift.

    Args:
        references: one (offset) or two (gain + offset) :class:`BlackbodyReference`.
        smoothing: exponential smoothing weight of each new fit (1 = no smoothing).
        max_std_c: a reference ROI less uniform than this is occluded; the last good fit is held.
    """

    def __init__(
        self, references: Sequence[BlackbodyReference], smoothing: float = 0.2, max_std_c: float = 0.5
    ):
        if not references:
            raise ConfigError("BlackbodyTracker needs at least one reference")
        if not 0.0 < smoothing <= 1.0:
            raise ConfigError(f"blackbody smoothing must be in (0, 1], got {smoothing}")
        self.references = list(references)
        self.smoothing = smoothing
        self.max_std_c = max_std_c
        self.fit: BlackbodyFit | None = None
        self._first: tuple[float, float, int] | None = None  # (gain, offset, t_ns) of the first fit
        self.held = 0

    def update(self, celsius: np.ndarray, t_ns: int) -> tuple[BlackbodyFit, dict[str, Any]]:
        """Fit this frame, blend into the running fit; return the fit to apply and meta facts."""
        new = fit_blackbody(celsius, self.references, self.max_std_c)
        if new.ok:
            if self.fit is None:
                self.fit = new
            else:
                a = self.smoothing
                self.fit = BlackbodyFit(
                    (1 - a) * self.fit.gain + a * new.gain,
                    (1 - a) * self.fit.offset_c + a * new.offset_c,
                    new.readings_c,
                    new.setpoints_c,
                )
            if self._first is None:
                self._first = (self.fit.gain, self.fit.offset_c, t_ns)
        else:
            self.held += 1
        fit = self.fit if self.fit is not None else BlackbodyFit(ok=False, reason=new.reason)
        meta = fit.as_meta()
        meta["ok"] = bool(new.ok and self.fit is not None)
        meta["reason"] = new.reason
        meta["held"] = not new.ok
        if self._first is not None and self.fit is not None:
            g0, o0, t0 = self._first
            minutes = max((t_ns - t0) / 6e10, 1e-9)
            meta["drift_offset_c"] = self.fit.offset_c - o0
            meta["drift_gain"] = self.fit.gain - g0
            meta["drift_c_per_min"] = (self.fit.offset_c - o0) / minutes if t_ns > t0 else 0.0
        return fit, meta
