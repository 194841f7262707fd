"""TensorRT side of the exporter: engines, the text calibration cache, explicit-QDQ rules.

``build_engine`` is the device-side builder from :mod:`biogate.engine.trt_build` (it needs only
``tensorrt``, so the SDK can rebuild a mismatched engine on the device); this package adds the
parts that need onnx: the QDQ rule checker and the calibration cache from a QDQ model.
"""

from __future__ import annotations

from biogate.engine.trt_build import BuildConfig, build_engine, engine_filename

from .calib_cache import parse_cache, read_cache, write_cache, write_from_qdq
from .qdq_rules import Violation, check_file, check_model

check_trt_qdq = check_model


def build_bundle_engines(bundle, precisions=("fp16",), **options):
    """Build ``engines/<file>`` for each precision of a verified bundle (on a TensorRT machine)."""
    from biogate.engine.trt_build import build_for_bundle

    return [build_for_bundle(bundle, p, **options) for p in precisions]


__all__ = [
    "BuildConfig",
    "Violation",
    "build_bundle_engines",
    "build_engine",
    "check_file",
    "check_model",
    "check_trt_qdq",
    "engine_filename",
    "parse_cache",
    "read_cache",
    "write_cache",
    "write_from_qdq",
]
