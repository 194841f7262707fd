"""The thermal camera simulator: a quick Lepton scene for streams and a physical face generator (seed 002).

* :mod:`.scene` — :func:`render_thermal`, the 160×120 scene of ``synthetic://thermal`` and of the
  kiosk walk-up (face template, blackbody, sensor error, FFC);
* :mod:`.face`, :mod:`.physics`, :mod:`.generator` — :class:`ThermalFaceGenerator`, radiometric
  faces with paired RGB images for training and evaluating the thermal model.

Both render through one exposure chain, :func:`.physics.expose` (grey-body radiance, optics, sensor,
Y16), and share the radiometry of :mod:`biogate.capture.radiometry` (skin emissivity, centi-kelvin).
No thermal face data ships with any offline package, so the project generates its own. Every
number below is a documented parameter (see ``docs/thermal.md``); the chain is::

    identity (geometry + thermal signature)  ×  capture (core temperature, ambient, pose, distance)
      → skin temperature field (°C)  → grey-body radiance (ε = 0.98, reflected = ambient)
      → atmosphere (τ over the distance)  → optics PSF (blur in radiance)  → apparent °C
      → sensor: gain error about the shutter temperature, offset drift + FFC jumps,
        fixed-pattern noise, NETD temporal noise  → Y16 centi-kelvin frame
    plus an in-scene blackbody (ETRS) square at a known set point, and a paired RGB rendering of the
    same face from a camera mounted beside the thermal imager on the same horizontal line.

Everything is deterministic under ``seed``: identity ``k`` of a generator is the same face on every
machine, and ``sample(k, index)`` is the same frame.
"""

from __future__ import annotations

from .face import Capture, Identity, make_identity, thermal_scene
from .generator import ThermalFaceGenerator, ThermalSample
from .physics import AMBIENT_BANDS, BAND_UM, CameraConfig, GeneratorConfig, band_radiance, radiance_to_celsius
from .scene import render_thermal, thermal_layout

__all__ = [
    "AMBIENT_BANDS",
    "BAND_UM",
    "CameraConfig",
    "Capture",
    "GeneratorConfig",
    "Identity",
    "ThermalFaceGenerator",
    "ThermalSample",
    "band_radiance",
    "make_identity",
    "radiance_to_celsius",
    "render_thermal",
    "thermal_layout",
    "thermal_scene",
]
