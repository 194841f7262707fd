"""TensorRT backend: a device-built engine from the bundle, run with pycuda or cuda-python.

The engine file is found (or built once, then cached) by :func:`~.trt_build.build_for_bundle`,
whose name and JSON sidecar carry the TensorRT version, GPU and precision — an engine from
another TensorRT or GPU is rebuilt, never loaded.  If deserialisation still fails (TensorRT
returns ``None`` on a version-tag mismatch) the engine is rebuilt once, or with
``rebuild=False`` an :class:`~biogate.errors.EngineError` says which file and why.

Device buffers are allocated once for ``max_batch``; each call copies inputs in, runs
``execute_async_v3`` (TensorRT ≥ 8.5; ``execute_async_v2`` with bindings before that) on one
stream and copies outputs back.  Not run on a GPU by biogate's CI: tests use faithful fakes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import Bundle
from ..errors import EngineError
from .base import Engine
from .cuda_mem import trt
from .precision import int8_usable
from .trt_build import build_for_bundle, supports_explicit_int8

log = logging.getLogger(__name__)


def auto_trt_precision(bundle: Bundle, t: Any) -> tuple[str, str]:
    """INT8 when the gate passed, the QDQ file fits TensorRT and the GPU has fast INT8; else FP16."""
    builder = t.Builder(t.Logger(t.Logger.WARNING))
    fast_int8 = bool(getattr(builder, "platform_has_fast_int8", True))
    fast_fp16 = bool(getattr(builder, "platform_has_fast_fp16", True))
    ok, why = int8_usable(bundle, "gpu")
    explicit_ok = bool(bundle.int8.get("tensorrt", {}).get("explicit_ok"))
    if ok and fast_int8 and (explicit_ok or not supports_explicit_int8(t.__version__)):
        return "int8", "INT8 passed its accuracy gate and this GPU has fast INT8"
    if fast_fp16:
        reason = "FP16: " + (
            why if not ok else "this GPU lacks fast INT8 or the QDQ graph breaks TensorRT rules"
        )
        return "fp16", reason
    return "fp32", "this GPU has neither fast INT8 nor fast FP16"


class TensorRTEngine(Engine):
    """A bundle run by a TensorRT execution context."""

    backend = "tensorrt"

    def __init__(
        self,
        bundle: Bundle,
        precision: str = "auto",
        max_batch: int = 8,
        cache_dir: Path | None = None,
        dla_core: int | None = None,
        workspace_mb: int = 1024,
        rebuild: bool | None = None,
        warmup: int = 1,
        spatial: tuple[int, int] | None = None,
        reason: str = "",
    ) -> None:
        t = trt()
        if precision == "auto":
            precision, reason = auto_trt_precision(bundle, t)
        super().__init__(bundle, precision, reason or f"requested {precision}")
        from .cuda_mem import Cuda

        self._t = t
        self._cuda = Cuda()
        self._max_batch = int(max_batch)
        build_opts: dict[str, Any] = {
            "max_batch": max_batch,
            "dla_core": dla_core,
            "workspace_mb": workspace_mb,
            "spatial": spatial,
        }
        may_rebuild = rebuild is not False
        self._path = build_for_bundle(bundle, precision, cache_dir, rebuild=bool(rebuild), **build_opts)
        self._runtime = t.Runtime(t.Logger(t.Logger.WARNING))
        if dla_core is not None:
            self._runtime.DLA_core = int(dla_core)
        engine = self._runtime.deserialize_cuda_engine(self._path.read_bytes())
        if engine is None:
            if not may_rebuild:
                raise EngineError(
                    f"TensorRT {t.__version__} cannot deserialise {self._path} (built by another TensorRT "
                    "version or GPU); delete it or allow rebuild"
                )
            log.warning("%s does not deserialise on TensorRT %s: rebuilding", self._path.name, t.__version__)
            self._path = build_for_bundle(bundle, precision, cache_dir, rebuild=True, **build_opts)
            engine = self._runtime.deserialize_cuda_engine(self._path.read_bytes())
            if engine is None:
                raise EngineError(f"TensorRT cannot deserialise the engine it just built: {self._path}")
        self._engine = engine
        self._context = engine.create_execution_context()
        self._v3 = hasattr(engine, "num_io_tensors")
        self._io = self._describe()
        self._device: dict[str, Any] = {}
        for name, (_, dtype, shape) in self._io.items():
            per_item = int(np.prod([d for d in shape[1:]])) if all(d > 0 for d in shape[1:]) else 0
            if per_item == 0 and spatial is not None:
                per_item = int(np.prod([d for d in shape[1:] if d > 0])) * spatial[0] * spatial[1]
            if per_item == 0:
                raise EngineError(
                    f"{bundle.name}: tensor {name!r} has dynamic non-batch dims; pass spatial=(H, W)"
                )
            self._device[name] = self._cuda.alloc(per_item * self._max_batch * np.dtype(dtype).itemsize)
        for _ in range(max(0, int(warmup))):
            self._warm()

    def _describe(self) -> dict[str, tuple[bool, Any, tuple[int, ...]]]:
        t, e = self._t, self._engine
        out: dict[str, tuple[bool, Any, tuple[int, ...]]] = {}
        if self._v3:
            for i in range(e.num_io_tensors):
                name = e.get_tensor_name(i)
                is_input = e.get_tensor_mode(name) == t.TensorIOMode.INPUT
                out[name] = (is_input, t.nptype(e.get_tensor_dtype(name)), tuple(e.get_tensor_shape(name)))
        else:  # TensorRT < 8.5: the bindings API
            for i in range(e.num_bindings):
                name = e.get_binding_name(i)
                out[name] = (
                    e.binding_is_input(i),
                    t.nptype(e.get_binding_dtype(i)),
                    tuple(e.get_binding_shape(i)),
                )
        return out

    def _warm(self) -> None:
        feed = {}
        for spec in self.inputs:
            if any(d < 0 for d in spec.shape[1:]):
                return
            feed[spec.name] = np.zeros((1, *spec.shape[1:]), dtype=spec.np_dtype)
        self._infer_impl(feed)

    def _infer_impl(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = next(iter(inputs.values())).shape[0]
        if batch > self._max_batch:
            raise EngineError(
                f"{self.bundle.name}: batch {batch} exceeds the engine's max_batch {self._max_batch}"
            )
        ctx, cuda = self._context, self._cuda
        names = list(self._io)
        for name, arr in inputs.items():
            want = self._io[name][1]
            arr = np.ascontiguousarray(arr, dtype=want)
            if self._v3:
                ctx.set_input_shape(name, arr.shape)
                ctx.set_tensor_address(name, cuda.ptr(self._device[name]))
            else:
                ctx.set_binding_shape(names.index(name), arr.shape)
            cuda.htod(self._device[name], arr)
        outputs: dict[str, np.ndarray] = {}
        for name, (is_in, dtype, _) in self._io.items():
            if is_in:
                continue
            shape = (
                tuple(ctx.get_tensor_shape(name))
                if self._v3
                else tuple(ctx.get_binding_shape(names.index(name)))
            )
            outputs[name] = np.empty(shape, dtype=dtype)
            if self._v3:
                ctx.set_tensor_address(name, cuda.ptr(self._device[name]))
        if self._v3:
            ok = ctx.execute_async_v3(cuda.stream_handle)
        else:
            ok = ctx.execute_async_v2([cuda.ptr(self._device[n]) for n in names], cuda.stream_handle)
        if not ok:
            raise EngineError(f"{self.bundle.name}: TensorRT execution failed ({self._path.name})")
        for name, host in outputs.items():
            cuda.dtoh(host, self._device[name])
        cuda.sync()
        return {spec.name: outputs[spec.name] for spec in self.outputs if spec.name in outputs}

    def _providers(self) -> list[str]:
        return [f"TensorRT {self._t.__version__}", f"CUDA via {self._cuda.kind}"]

    def _model_file(self) -> str:
        return str(self._path)

    def _extra_info(self) -> dict[str, Any]:
        return {"engine_file": self._path.name, "max_batch": self._max_batch}

    def close(self) -> None:
        if not self._closed:
            for buf in self._device.values():
                self._cuda.free(buf)
            self._device = {}
            self._context = None
            self._engine = None
        super().close()
