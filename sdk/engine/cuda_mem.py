"""Minimal CUDA memory for the TensorRT backend: pycuda, or cuda-python where pycuda is absent.

Only what the engine and calibrator need: device buffers, host↔device copies on a stream,
stream sync, the GPU's name and compute capability (engines are tied to both), and the
``tensorrt`` module itself (:func:`trt`, shared by the builder and the calibrator).  Both
bindings are imported lazily; neither can be installed on the build machines, so this module
is exercised there only through fakes (see docs/exporters.md).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import numpy as np

from .._lazy import lazy_import
from ..errors import BackendUnavailable, EngineError


def trt() -> Any:
    """The ``tensorrt`` module, or :class:`BackendUnavailable` naming the ``tensorrt`` extra."""
    return lazy_import("tensorrt", "tensorrt")


def module_present(name: str) -> bool:
    """True when ``name`` is importable, without importing it (an already-imported one counts)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def binding_name() -> str:
    """``pycuda`` or ``cuda-python`` (whichever imports), else :class:`BackendUnavailable`."""
    if module_present("pycuda"):
        return "pycuda"
    if module_present("cuda"):
        return "cuda-python"
    raise BackendUnavailable("pycuda", "tensorrt", why="the TensorRT backend needs pycuda or cuda-python")


def _cudart() -> Any:
    try:
        from cuda.bindings import runtime  # cuda-python >= 12.6

        return runtime
    except ImportError:
        return lazy_import("cuda.cudart", "tensorrt")


def _check(result: Any, what: str) -> Any:
    """cuda-python returns ``(err, *values)``; raise on a non-zero error code."""
    err, rest = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
    if int(err) != 0:
        raise EngineError(f"CUDA {what} failed with error {int(err)}")
    return rest[0] if len(rest) == 1 else rest


class Cuda:
    """One CUDA context/stream with buffer helpers, on either binding."""

    def __init__(self, device: int = 0) -> None:
        self.kind = binding_name()
        if self.kind == "pycuda":
            self.drv = lazy_import("pycuda.driver", "tensorrt")
            lazy_import("pycuda.autoinit", "tensorrt")  # creates the context on device 0
            self.stream = self.drv.Stream()
        else:
            self.rt = _cudart()
            _check(self.rt.cudaSetDevice(device), "cudaSetDevice")
            self.stream = _check(self.rt.cudaStreamCreate(), "cudaStreamCreate")

    @property
    def stream_handle(self) -> int:
        return int(self.stream.handle) if self.kind == "pycuda" else int(self.stream)

    def alloc(self, nbytes: int) -> Any:
        if self.kind == "pycuda":
            return self.drv.mem_alloc(max(1, int(nbytes)))
        return _check(self.rt.cudaMalloc(max(1, int(nbytes))), "cudaMalloc")

    @staticmethod
    def ptr(buf: Any) -> int:
        return int(buf)

    def htod(self, dst: Any, src: np.ndarray) -> None:
        if self.kind == "pycuda":
            self.drv.memcpy_htod_async(dst, src, self.stream)
        else:
            kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
            _check(
                self.rt.cudaMemcpyAsync(int(dst), src.ctypes.data, src.nbytes, kind, self.stream), "H2D copy"
            )

    def dtoh(self, dst: np.ndarray, src: Any) -> None:
        if self.kind == "pycuda":
            self.drv.memcpy_dtoh_async(dst, src, self.stream)
        else:
            kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
            _check(
                self.rt.cudaMemcpyAsync(dst.ctypes.data, int(src), dst.nbytes, kind, self.stream), "D2H copy"
            )

    def sync(self) -> None:
        if self.kind == "pycuda":
            self.stream.synchronize()
        else:
            _check(self.rt.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")

    def free(self, buf: Any) -> None:
        if self.kind == "pycuda":
            buf.free()
        else:
            _check(self.rt.cudaFree(buf), "cudaFree")


def gpu_identity(device: int = 0) -> tuple[str, str]:
    """(GPU name, compute capability ``"8.7"``) of ``device`` — what an engine is tied to."""
    if binding_name() == "pycuda":
        drv = lazy_import("pycuda.driver", "tensorrt")
        drv.init()
        dev = drv.Device(device)
        major, minor = dev.compute_capability()
        return str(dev.name()), f"{major}.{minor}"
    rt = _cudart()
    props = _check(rt.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return name.strip("\x00 "), f"{props.major}.{props.minor}"
