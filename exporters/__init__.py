"""biogate.exporters — the training side: torch nets, training, and export to model bundles.

Public API (imported lazily, so ``import biogate.exporters`` and the registry stay light and
torch/onnx load only when a function that needs them is called):

* :func:`export` — registered model → verified bundle (ONNX, parity, INT8, manifest).
* :func:`export_all` — every registered model.
* :func:`quantize` — symmetric-int8 QDQ model from an FP32 ONNX file.
* :func:`build_engine` — TensorRT engine from an ONNX file (needs tensorrt).
* :class:`CalibrationDataReader`, :class:`CalibrationMethod`, :func:`resolve_method`.
* :mod:`registry` — ``ModelSpec``, ``TensorSpec``, ``register``, ``get``, ``names``, ``load_all``.

This package may import torch; the device SDK (``biogate``) never does.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import registry

_LAZY = {
    "export": "biogate.exporters.convert.build",
    "export_all": "biogate.exporters.convert.build",
    "quantize": "biogate.exporters.convert.int8",
    "quantize_gated": "biogate.exporters.convert.int8",
    "CalibrationDataReader": "biogate.exporters.convert.calibration",
    "CalibrationMethod": "biogate.exporters.convert.calibration",
    "resolve_method": "biogate.exporters.convert.calibration",
    "build_engine": "biogate.exporters.convert.trt",
    "check_trt_qdq": "biogate.exporters.convert.trt",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return getattr(module, name)
    raise AttributeError(f"module 'biogate.exporters' has no attribute {name!r}")


__all__ = ["registry", *_LAZY]
