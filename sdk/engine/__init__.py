"""``biogate.engine.load(bundle)``: run a verified model bundle on ONNX Runtime or TensorRT.

::

    from biogate import engine
    eng = engine.load("bundles/reference_cnn")          # backend/precision "auto"
    out = eng({"image": batch})                          # dict in, dict out
    eng.info.backend, eng.info.providers, eng.info.precision

``backend="auto"`` takes TensorRT when ``tensorrt`` and a CUDA binding (pycuda or cuda-python)
import, else ONNX Runtime.  ``precision="auto"`` follows the bundle's measured evidence
(:mod:`biogate.engine.precision`): never a precision that failed its accuracy gate or was
measured slower.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..bundle import Bundle, Trusted, open_bundle
from ..errors import ConfigError
from .base import Engine, EngineInfo, TensorInfo
from .precision import auto_cpu_precision, check_precision, require_int8

BACKENDS = ("auto", "onnxruntime", "tensorrt")
_OPTIONS = {
    "onnxruntime": ("providers", "threads", "warmup", "reuse_outputs", "cache_dir", "max_batch", "dla_core"),
    "tensorrt": ("max_batch", "cache_dir", "dla_core", "workspace_mb", "rebuild", "warmup", "spatial"),
}
_CPU_ONLY = ("cpu", ["cpu"], ["CPUExecutionProvider"], "CPUExecutionProvider")


def _tensorrt_present() -> bool:
    from .cuda_mem import module_present

    return module_present("tensorrt") and (module_present("pycuda") or module_present("cuda"))


def load(
    bundle: str | Path | Bundle,
    backend: str = "auto",
    precision: str = "auto",
    allow_unfit: bool = False,
    trusted_keys: Trusted = None,
    **options: Any,
) -> Engine:
    """Verify ``bundle`` and return a ready (warmed-up) :class:`Engine`.

    Args:
        bundle: bundle directory (verified by :func:`biogate.bundle.open_bundle`: signature under a
            trusted key, manifest structure and thresholds, no links, sha256 of every file) or an
            open :class:`Bundle`.
        backend: ``auto`` | ``onnxruntime`` | ``tensorrt``.
        precision: ``auto`` | ``fp32`` | ``fp16`` | ``int8``.
        allow_unfit: run INT8 even though the bundle's accuracy gate rejected it (the INT8 gate;
            a deciding model's *fitness* is judged by :mod:`biogate.models.base`).
        trusted_keys: public keys to accept signatures from (default: the device's trust set,
            :class:`biogate.bundle.TrustStore`).
        **options: backend options — ONNX Runtime: ``providers`` (``cpu``/``cuda``/``tensorrt``
            or a list; default ``cpu``), ``threads``, ``warmup``, ``reuse_outputs``, ``cache_dir``,
            ``max_batch``, ``dla_core``; TensorRT: ``cache_dir``, ``max_batch``, ``dla_core``,
            ``workspace_mb``, ``rebuild``, ``warmup``.

    Raises:
        BundleError: unsigned, untrusted or tampered bundle; a link; a malformed manifest.
        EngineError: missing provider, mismatched engine that cannot be rebuilt, unusable
        precision.  ConfigError: bad option value.
    """
    b = open_bundle(bundle, trusted_keys=trusted_keys)
    backend = str(backend).lower()
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    precision = check_precision(precision)
    if backend == "auto":
        backend = "tensorrt" if _tensorrt_present() else "onnxruntime"
    valid = _OPTIONS[backend]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"unknown {backend} option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    if precision == "int8":
        cpu_only = backend == "onnxruntime" and options.get("providers", "cpu") in _CPU_ONLY
        require_int8(b, allow_unfit, "cpu" if cpu_only else "gpu")
    if backend == "tensorrt":
        from .tensorrt import TensorRTEngine

        return TensorRTEngine(b, precision, **options)
    from .onnxruntime import OnnxRuntimeEngine, check_threads

    providers = options.pop("providers", "cpu")
    if "threads" in options:
        options["threads"] = check_threads(options["threads"])
    reason = f"requested {precision}"
    if precision == "auto":
        if providers in _CPU_ONLY:
            precision, reason = auto_cpu_precision(b)
        else:
            precision, reason = "fp16", "GPU execution provider: FP16 (TensorRT EP) or FP32 fallback"
            from .onnxruntime import resolve_providers

            if "TensorrtExecutionProvider" not in resolve_providers(providers):
                precision, reason = "fp32", "CUDA execution provider without TensorRT: FP32"
    return OnnxRuntimeEngine(b, precision, providers=providers, reason=reason, **options)


__all__ = ["BACKENDS", "Engine", "EngineInfo", "TensorInfo", "load"]
