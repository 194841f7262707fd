"""Sensor simulators for the device side (numpy/OpenCV, no torch): one module per sensor.

* :mod:`biogate.sim.xray` — palm radiographs (live hands and fakes), ``biogate palm simulate``;
* :mod:`biogate.sim.xray_dicom` — those radiographs written as a detector's DICOM export folder.
"""

from __future__ import annotations

from . import xray, xray_dicom

__all__ = ["xray", "xray_dicom"]
