"""Sensor simulators for the device side (numpy/OpenCV, no torch): one module per sensor.

* :mod:`biogate.sim.face` — the RGB camera's face scenes (``synthetic://face``) and placing a face
  image into a frame;
* :mod:`biogate.sim.focus` — focus and motion blur schedules and the blur itself;
* :mod:`biogate.sim.thermal` — the thermal camera: the Lepton scene of ``synthetic://thermal`` and
  the physically based radiometric face generator (seed 002 training data);
* :mod:`biogate.sim.xray` — palm radiographs, live hands and fakes (seed 001, ``biogate palm
  simulate``); :mod:`biogate.sim.xray_frames` — the same hand as the stream of ``synthetic://xray``;
  :mod:`biogate.sim.xray_dicom` — radiographs written as a detector's DICOM export folder;
* :mod:`biogate.sim.walkup` — the kiosk walk-up: visitors in front of the RGB and thermal cameras
  (``synthetic://walkup``, ``biogate demo``).

Submodules are imported on use (``from biogate.sim import xray``), so one simulator's
dependencies (pydicom for the DICOM writer) cost nothing to the others.
"""

from __future__ import annotations

__all__ = ["face", "focus", "thermal", "walkup", "xray", "xray_dicom", "xray_frames"]
