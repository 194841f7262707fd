"""The Engine contract every backend implements (DESIGN.md §3, Polygraphy-style runner).

``engine(inputs)`` validates names, shapes and dtypes against the bundle's input specs, then
calls the backend's ``_infer_impl``.  A wrong input is one :class:`~biogate.errors.EngineError`
naming the tensor, what was given and what is expected.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..bundle import Bundle
from ..errors import EngineError

_DTYPES = {
    "float32": np.float32,
    "float16": np.float16,
    "int8": np.int8,
    "uint8": np.uint8,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
}


@dataclass
class TensorInfo:
    """Name, shape (-1 = dynamic), dtype and layout of one engine tensor."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    layout: str = ""
    color: str = "none"
    normalization: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any]) -> TensorInfo:
        return cls(
            name=str(entry["name"]),
            shape=tuple(int(d) for d in entry["shape"]),
            dtype=str(entry.get("dtype", "float32")),
            layout=str(entry.get("layout", "")),
            color=str(entry.get("color", "none")),
            normalization=dict(entry.get("normalization") or {}),
        )

    @property
    def np_dtype(self) -> Any:
        return np.dtype(_DTYPES.get(self.dtype, self.dtype))


@dataclass
class EngineInfo:
    """What is actually running: backend, providers in use, precision, tensor specs."""

    backend: str
    precision: str
    providers: list[str]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    model_file: str
    bundle: str
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "precision": self.precision,
            "providers": list(self.providers),
            "inputs": [t.__dict__ for t in self.inputs],
            "outputs": [t.__dict__ for t in self.outputs],
            "model_file": self.model_file,
            "bundle": self.bundle,
            "reason": self.reason,
            **self.extra,
        }


class Engine(abc.ABC):
    """Base class: validated ``__call__`` → backend ``_infer_impl``; a context manager."""

    backend = "base"

    def __init__(self, bundle: Bundle, precision: str, reason: str = "") -> None:
        self.bundle = bundle
        self.precision = precision
        self.reason = reason
        self.inputs = [TensorInfo.from_manifest(t) for t in bundle.inputs]
        self.outputs = [TensorInfo.from_manifest(t) for t in bundle.outputs]
        self._closed = False

    # -- public -------------------------------------------------------------------------
    @property
    def info(self) -> EngineInfo:
        """Backend, providers actually in use, precision and the input/output specs."""
        return EngineInfo(
            backend=self.backend,
            precision=self.precision,
            providers=self._providers(),
            inputs=list(self.inputs),
            outputs=list(self.outputs),
            model_file=self._model_file(),
            bundle=str(self.bundle.root),
            reason=self.reason,
            extra=self._extra_info(),
        )

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch: ``{input_name: array}`` → ``{output_name: array}``."""
        if self._closed:
            raise EngineError(f"engine for {self.bundle.name} is closed")
        return self._infer_impl(self.validate(inputs))

    def validate(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Check names, rank, fixed dims, batch agreement and dtype; return contiguous arrays."""
        if not isinstance(inputs, Mapping):
            raise EngineError(
                f"{self.bundle.name}: inputs must be a dict of name -> numpy array, "
                f"got {type(inputs).__name__}"
            )
        expected = {t.name for t in self.inputs}
        unknown = sorted(set(inputs) - expected)
        missing = sorted(expected - set(inputs))
        if unknown or missing:
            raise EngineError(
                f"{self.bundle.name}: input names {sorted(inputs)} do not match "
                f"the model's {sorted(expected)}"
                + (f" (missing {missing})" if missing else "")
                + (f" (unknown {unknown})" if unknown else "")
            )
        out: dict[str, np.ndarray] = {}
        batch: int | None = None
        for spec in self.inputs:
            arr = inputs[spec.name]
            if not isinstance(arr, np.ndarray):
                raise EngineError(
                    f"{self.bundle.name}: input {spec.name!r} must be a numpy array, got {type(arr).__name__}"
                )
            if arr.dtype != spec.np_dtype:
                raise EngineError(
                    f"{self.bundle.name}: input {spec.name!r} has dtype {arr.dtype}, expected {spec.dtype}"
                    f" (convert with arr.astype(np.{spec.dtype}))"
                )
            want = spec.shape
            fixed_ok = len(arr.shape) == len(want) and all(w in (-1, g) for w, g in zip(want, arr.shape))
            if not fixed_ok:
                shown = tuple("N" if i == 0 else ("?" if w == -1 else w) for i, w in enumerate(want))
                raise EngineError(
                    f"{self.bundle.name}: input {spec.name!r} has shape {tuple(arr.shape)}, expected {shown}"
                )
            if batch is not None and arr.shape[0] != batch:
                raise EngineError(
                    f"{self.bundle.name}: inputs disagree on batch size "
                    f"({batch} vs {arr.shape[0]} for {spec.name!r})"
                )
            batch = arr.shape[0]
            out[spec.name] = np.ascontiguousarray(arr)
        return out

    def close(self) -> None:
        """Release backend resources; the engine cannot be called afterwards."""
        self._closed = True

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.bundle.name} {self.backend}/{self.precision}>"

    # -- backend hooks ------------------------------------------------------------------
    @abc.abstractmethod
    def _infer_impl(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the backend on validated inputs."""

    def _providers(self) -> list[str]:
        return []

    def _model_file(self) -> str:
        return ""

    def _extra_info(self) -> dict[str, Any]:
        return {}
