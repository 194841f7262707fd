"""``IInt8EntropyCalibrator2`` for implicit INT8 on TensorRT < 8.6 (older JetPack).

It serves batches from any object with ``get_next()`` (biogate's ``CalibrationDataReader``)
and reads/writes TensorRT's text calibration cache.  With ``read_only=True`` and a cache
file (the bundle's ``calib.cache``, written from biogate's own gated ranges) TensorRT uses the
cache and asks for no data at all — the path on a device, which has no calibration set.
The base class is created lazily so importing this module never needs tensorrt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .cuda_mem import trt

_CLASS: Any = None


def _calibrator_class() -> Any:
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    t = trt()

    class _EntropyCalibrator(t.IInt8EntropyCalibrator2):
        def __init__(self, reader: Any, cache: Path | None, read_only: bool, batch_size: int) -> None:
            t.IInt8EntropyCalibrator2.__init__(self)
            self.reader = reader
            self.cache = Path(cache) if cache is not None else None
            self.read_only = read_only
            self.batch_size = batch_size
            self.cuda: Any = None
            self.buffers: dict = {}
            self.batches_served = 0

        def get_batch_size(self) -> int:
            return self.batch_size

        def get_batch(self, names: list[str]) -> list[int] | None:
            if self.reader is None:
                return None
            sample = self.reader.get_next()
            if sample is None:
                return None
            if self.cuda is None:
                from .cuda_mem import Cuda

                self.cuda = Cuda()
            pointers = []
            for name in names:
                arr = np.ascontiguousarray(sample[name], dtype=np.float32)
                buf = self.buffers.get(name)
                if buf is None or buf[1] < arr.nbytes:
                    buf = (self.cuda.alloc(arr.nbytes), arr.nbytes)
                    self.buffers[name] = buf
                self.cuda.htod(buf[0], arr)
                pointers.append(self.cuda.ptr(buf[0]))
            self.cuda.sync()
            self.batches_served += 1
            return pointers

        def read_calibration_cache(self) -> bytes | None:
            if self.cache is not None and self.cache.is_file():
                return self.cache.read_bytes()
            return None

        def write_calibration_cache(self, cache: Any) -> None:
            if self.cache is not None and not self.read_only:
                self.cache.write_bytes(bytes(cache))

    _CLASS = _EntropyCalibrator
    return _CLASS


def EntropyCalibrator(reader: Any, cache: Path | None, read_only: bool = False, batch_size: int = 1) -> Any:  # noqa: N802
    """An ``IInt8EntropyCalibrator2`` over ``reader`` (``get_next()``) with a cache file."""
    return _calibrator_class()(reader, cache, read_only, batch_size)
