"""ONNX Runtime backend: CPU, CUDA and TensorRT execution providers.

``providers`` accepts short names (``cpu``, ``cuda``, ``tensorrt``) or ORT's own; ``auto`` takes
TensorRT EP > CUDA EP > CPU among those this onnxruntime build offers.  After the session is
made, the providers it *actually* registered (``session.get_providers()``) are compared with
the request: ORT silently falls back to CPU when a GPU provider cannot load, and biogate
turns that into an error instead of a slow surprise.

Runs go through IO binding with output buffers preallocated per batch size; outputs are
copied out unless ``reuse_outputs=True`` (then they stay valid until the next call).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._lazy import lazy_import
from ..bundle import Bundle
from ..errors import ConfigError, EngineError
from .base import Engine
from .precision import int8_choice

_SHORT = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
}
_GPU_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def _ort() -> Any:
    return lazy_import("onnxruntime")


def resolve_providers(providers: str | Sequence[str] | None) -> list[str]:
    """Expand ``auto``/short names to ORT provider names; unknown or absent ones are errors."""
    available = list(_ort().get_available_providers())
    if providers in (None, "auto"):
        chosen = [p for p in _GPU_ORDER if p in available]
        return [*chosen, "CPUExecutionProvider"]
    names = [providers] if isinstance(providers, str) else list(providers)
    out = []
    for name in names:
        full = _SHORT.get(str(name).lower(), str(name))
        if full not in available:
            raise EngineError(
                f"ONNX Runtime provider {name!r} is not available in this onnxruntime build "
                f"(available: {', '.join(available)}; GPU providers need onnxruntime-gpu)"
            )
        out.append(full)
    if "CPUExecutionProvider" not in out:
        out.append("CPUExecutionProvider")  # ORT needs CPU for the ops a GPU provider skips
    return out


def _profile(inputs: Sequence[Any], batch: int) -> str:
    dims = []
    for t in inputs:
        shape = [batch if i == 0 else d for i, d in enumerate(t.shape)]
        if any(d < 0 for d in shape):
            return ""
        dims.append(f"{t.name}:{'x'.join(str(d) for d in shape)}")
    return ",".join(dims)


def cache_dir_for(bundle: Bundle, cache_dir: str | Path | None) -> Path:
    """``cache_dir``, else ``<bundle>/engines`` when writable, else ``~/.cache/biogate/engines``."""
    if cache_dir is not None:
        path = Path(cache_dir)
    elif os.access(str(bundle.root), os.W_OK):
        path = bundle.engines_dir()
    else:
        digest = bundle.manifest["files"]["model.onnx"]["sha256"][:12]
        path = Path.home() / ".cache" / "biogate" / "engines" / f"{bundle.name}-{digest}"
    path.mkdir(parents=True, exist_ok=True)
    return path


class OnnxRuntimeEngine(Engine):
    """A bundle run by one ``onnxruntime.InferenceSession``."""

    backend = "onnxruntime"

    def __init__(
        self,
        bundle: Bundle,
        precision: str,
        providers: str | Sequence[str] | None = "cpu",
        threads: int = 0,
        warmup: int = 1,
        reuse_outputs: bool = False,
        cache_dir: str | Path | None = None,
        max_batch: int = 8,
        dla_core: int | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(bundle, precision, reason)
        ort = _ort()
        if precision == "fp16" and providers in ("cpu", ["cpu"], ["CPUExecutionProvider"]):
            raise EngineError(
                "precision 'fp16' needs the TensorRT provider or backend; on CPU use fp32 or int8"
            )
        requested = resolve_providers(providers)
        on_cpu = requested == ["CPUExecutionProvider"]
        model_file = "model.onnx"
        if precision == "int8":
            model_file = int8_choice(bundle, "cpu" if on_cpu else "gpu")["file"]
        self._file = bundle.path(model_file)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        with_options: list[str | tuple[str, dict[str, Any]]] = []
        for name in requested:
            if name == "TensorrtExecutionProvider":
                with_options.append((name, self._trt_options(cache_dir, max_batch, dla_core)))
            else:
                with_options.append(name)
        try:
            # From the re-verified bytes, not the path: what runs is what was hashed and signed.
            model = bundle.read(model_file)
            self._session = ort.InferenceSession(model, options, providers=with_options)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/RuntimeException types
            raise EngineError(f"ONNX Runtime could not load {self._file}: {exc}") from exc
        self._in_use = list(self._session.get_providers())
        missing = [p for p in requested if p not in self._in_use]
        if missing and providers not in (None, "auto"):
            raise EngineError(
                f"ONNX Runtime did not enable {', '.join(missing)} for {self._file} "
                f"(it runs on {', '.join(self._in_use)}): check CUDA/TensorRT libraries and drivers"
            )
        if precision == "fp16" and "TensorrtExecutionProvider" not in self._in_use:
            raise EngineError(
                "precision 'fp16' needs the TensorRT provider, which ONNX Runtime did not enable"
            )
        self._threads = int(threads)
        self._reuse = bool(reuse_outputs)
        self._out_names = [o.name for o in self._session.get_outputs()]
        self._buffers: dict[int, dict[str, np.ndarray]] = {}
        self._binding = self._session.io_binding()
        for _ in range(max(0, int(warmup))):
            self._warm()

    def _trt_options(
        self, cache_dir: str | Path | None, max_batch: int, dla_core: int | None
    ) -> dict[str, Any]:
        cache = str(cache_dir_for(self.bundle, cache_dir) / "ort-trt")
        Path(cache).mkdir(parents=True, exist_ok=True)
        opts: dict[str, Any] = {
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": cache,
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": cache,
            "trt_fp16_enable": self.precision in ("fp16", "int8"),
            "trt_int8_enable": self.precision == "int8",  # the QDQ model: explicit quantization
        }
        lo, hi = _profile(self.inputs, 1), _profile(self.inputs, max_batch)
        if lo and hi:  # without a profile TensorRT rebuilds for every new batch size
            opts.update(
                {"trt_profile_min_shapes": lo, "trt_profile_opt_shapes": lo, "trt_profile_max_shapes": hi}
            )
        if dla_core is not None:
            opts.update({"trt_dla_enable": True, "trt_dla_core": int(dla_core)})
        return opts

    def _warm(self) -> None:
        feed = {}
        for t in self.inputs:
            if any(d < 0 for d in t.shape[1:]):
                return  # dynamic spatial size: nothing meaningful to warm with
            feed[t.name] = np.zeros((1, *tuple(t.shape[1:])), dtype=t.np_dtype)
        self._infer_impl(feed)

    def _outputs_for(self, batch: int) -> dict[str, np.ndarray] | None:
        if batch in self._buffers:
            return self._buffers[batch]
        out = {}
        for t in self.outputs:
            shape = (batch, *tuple(t.shape[1:]))
            if any(d < 0 for d in shape):
                return None  # dynamic output dims: let ORT allocate
            out[t.name] = np.empty(shape, dtype=t.np_dtype)
        if len(self._buffers) >= 4:
            self._buffers.pop(next(iter(self._buffers)))
        self._buffers[batch] = out
        return out

    def _infer_impl(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        binding = self._binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        for name, arr in inputs.items():
            binding.bind_cpu_input(name, arr)
        batch = next(iter(inputs.values())).shape[0]
        buffers = self._outputs_for(batch)
        if buffers is not None:
            for name, buf in buffers.items():
                binding.bind_output(name, "cpu", 0, buf.dtype, list(buf.shape), buf.ctypes.data)
        else:
            for name in self._out_names:
                binding.bind_output(name, "cpu")
        try:
            self._session.run_with_iobinding(binding)
        except Exception as exc:
            raise EngineError(f"{self.bundle.name}: ONNX Runtime run failed: {exc}") from exc
        if buffers is None:
            return dict(zip(self._out_names, binding.copy_outputs_to_cpu()))
        if self._reuse:
            return dict(buffers)
        return {k: v.copy() for k, v in buffers.items()}

    def _providers(self) -> list[str]:
        return list(self._in_use)

    def _model_file(self) -> str:
        return str(self._file)

    def _extra_info(self) -> dict[str, Any]:
        return {
            "intra_op_threads": self._threads,
            "reuse_outputs": self._reuse,
            "onnxruntime": _ort().__version__,
        }

    def close(self) -> None:
        super().close()
        self._session = None
        self._binding = None


def check_threads(threads: int) -> int:
    if int(threads) < 0:
        raise ConfigError(f"threads must be >= 0 (0 = ONNX Runtime's default), got {threads}")
    return int(threads)
