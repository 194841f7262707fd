"""Registered model → verified bundle: ONNX export, parity, INT8 and its gate, calibration, latency,
bundle manifest, sensitivity, TensorRT (:mod:`.trt`); :mod:`.build` runs them in order.

This package shares its name with the public entry :func:`biogate.exporters.export`. Once any
module in here is imported, Python binds ``biogate.exporters.export`` to this package, so the
package is callable: calling it is calling :func:`.build.export`, whichever of the two a caller got.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _ExportPackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .build import export

        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _ExportPackage
