"""Calibration data and methods for INT8 (the ONNX Runtime quantization vocabulary).

:class:`CalibrationDataReader` has one method, ``get_next()`` (a dict of inputs or ``None``),
so ONNX Runtime's calibrators and biogate's TensorRT calibrator read the same samples.
:class:`CalibrationMethod` names the algorithms; :func:`resolve_method` turns a user string
into the enum and :func:`ort_method` into ONNX Runtime's own enum.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable

import numpy as np

from biogate.errors import ConfigError
from biogate.exporters.registry import ModelSpec


class CalibrationMethod(enum.Enum):
    """How activation ranges are chosen from the calibration samples."""

    MINMAX = "minmax"  # the observed min/max: no clipping, coarser steps
    ENTROPY = "entropy"  # KL-divergence-optimal threshold (TensorRT's EntropyCalibration2 idea)
    PERCENTILE = "percentile"  # clip to the 99.999th percentile of |x|


def resolve_method(method: str | CalibrationMethod) -> CalibrationMethod:
    """``"entropy"``, ``"MinMax"``, ``CalibrationMethod.PERCENTILE`` ... → the enum."""
    if isinstance(method, CalibrationMethod):
        return method
    key = str(method).strip().lower().replace("_", "").replace("-", "")
    for member in CalibrationMethod:
        if member.value == key:
            return member
    valid = ", ".join(m.value for m in CalibrationMethod)
    raise ConfigError(f"unknown calibration method {method!r}; valid: {valid}")


def ort_method(method: CalibrationMethod):
    """The matching ``onnxruntime.quantization.CalibrationMethod``."""
    from onnxruntime.quantization import CalibrationMethod as OrtMethod

    return {
        CalibrationMethod.MINMAX: OrtMethod.MinMax,
        CalibrationMethod.ENTROPY: OrtMethod.Entropy,
        CalibrationMethod.PERCENTILE: OrtMethod.Percentile,
    }[method]


class CalibrationDataReader:
    """Serves calibration samples one dict at a time; ``rewind()`` starts again.

    Compatible with ``onnxruntime.quantization.CalibrationDataReader`` (duck-typed: ORT's ABC
    accepts any object with ``get_next``).  Samples are materialised once so several
    calibration passes (retries, the TensorRT cache) see exactly the same data.
    """

    def __init__(
        self, samples: Iterable[dict[str, np.ndarray]], input_names: list[str] | None = None
    ) -> None:
        self._samples = [
            {
                k: np.ascontiguousarray(v, dtype=np.float32)
                if v.dtype == np.float64
                else np.ascontiguousarray(v)
                for k, v in s.items()
                if input_names is None or k in input_names
            }
            for s in samples
        ]
        if not self._samples:
            raise ConfigError("calibration data is empty: the model's calibration_data() yielded nothing")
        self._pos = 0

    @classmethod
    def from_spec(
        cls,
        spec: ModelSpec,
        count: int,
        source: Callable[[int], Iterable[dict[str, np.ndarray]]] | None = None,
    ) -> CalibrationDataReader:
        """Up to ``count`` samples from ``spec.calibration_data`` (or ``source``)."""
        data = (source or spec.calibration_data)(count)
        return cls(data, [t.name for t in spec.inputs])

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._pos >= len(self._samples):
            return None
        self._pos += 1
        return self._samples[self._pos - 1]

    def rewind(self) -> None:
        self._pos = 0

    def __iter__(self):
        return iter(self._samples)

    def __len__(self) -> int:
        return sum(next(iter(s.values())).shape[0] for s in self._samples)

    def digest(self) -> str:
        """sha256 over every sample's bytes: which exact data the ranges came from."""
        h = hashlib.sha256()
        for s in self._samples:
            for k in sorted(s):
                h.update(k.encode())
                h.update(s[k].tobytes())
        return h.hexdigest()
