"""Physics of the thermal simulators: generator parameters, 8–14 µm Planck radiance, the exposure chain."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ...capture.radiometry import KELVIN, SKIN_EMISSIVITY, celsius_to_centikelvin

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


def seen_radiance(temp_c, emissivity, reflected_c: float, transmission=1.0) -> np.ndarray:
    """In-band radiance at the lens: a grey body reflecting the room, through the air path (τ)."""
    refl = band_radiance(reflected_c)
    return (
        transmission * (emissivity * band_radiance(temp_c) + (1 - emissivity) * refl)
        + (1 - transmission) * refl
    )


def expose(
    temp_c: np.ndarray,
    emissivity,
    reflected_c: float,
    *,
    transmission=1.0,
    blur_sigma_px: float = 0.0,
    gain_error: float = 0.0,
    shutter_c: float = 0.0,
    offset_c: float = 0.0,
    drift_c: float = 0.0,
    fpn=0.0,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """The thermal camera's exposure chain: true surface temperatures (°C) → its Y16 centi-kelvin frame.

    Grey-body radiance with reflections of the room (:func:`seen_radiance`), the optics' PSF (a
    Gaussian in radiance, skipped when ``blur_sigma_px`` is 0), the apparent temperature, then the
    sensor: a gain error about the shutter temperature, offset + drift, fixed-pattern noise and
    temporal ``noise``. The one renderer of both thermal simulators: the physical face generator
    (:class:`~biogate.sim.thermal.ThermalFaceGenerator`) and the Lepton scene
    (:func:`~biogate.sim.thermal.render_thermal`).
    """
    radiance = seen_radiance(temp_c, emissivity, reflected_c, transmission)
    if blur_sigma_px > 0:
        radiance = cv2.GaussianBlur(radiance, (0, 0), blur_sigma_px)
    apparent = radiance_to_celsius(radiance)
    reading = apparent + gain_error * (apparent - shutter_c) + offset_c + drift_c + fpn
    if noise is not None:
        reading += noise
    return celsius_to_centikelvin(reading)


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
