"""Build TensorRT engines from a bundle's ONNX files (on the device; tensorrt imported lazily).

* **Explicit INT8** (TensorRT ≥ 8.6): parse ``model.int8.onnx`` (QDQ) with the INT8 and FP16
  flags; the Q/DQ scales are the ones biogate's accuracy gate approved.
* **Implicit INT8** (older JetPack): parse ``model.onnx`` with an ``IInt8EntropyCalibrator2``
  that reads the bundle's ``calib.cache`` (or calibrates on a data reader and writes the cache).
* FP16 / FP32 from ``model.onnx``.

Dynamic axes get an optimisation profile (min batch 1, opt ``opt_batch``, max ``max_batch``);
a timing cache file is reused across builds; ``dla_core`` targets a Jetson DLA with GPU fallback.
Engine files are named by model, precision, TensorRT version, GPU name and compute capability
(:func:`engine_filename`), with a JSON sidecar, so an engine from another TensorRT or GPU is
rebuilt, never deserialised.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..bundle import Bundle
from ..errors import ConfigError, EngineError
from .cuda_mem import trt

log = logging.getLogger(__name__)

TRT_PRECISIONS = ("fp32", "fp16", "int8")


def trt_version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def supports_explicit_int8(version: str) -> bool:
    """TensorRT ≥ 8.6 builds QDQ graphs reliably (biogate's rule set targets it)."""
    return trt_version_tuple(version) >= (8, 6)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "gpu"


def engine_filename(
    name: str, precision: str, trt_version: str, gpu_name: str, compute_capability: str = ""
) -> str:
    """``<model>.<precision>.trt<version>.<gpu>[.sm<cc>].engine`` — everything an engine is tied to."""
    cc = f".sm{compute_capability.replace('.', '')}" if compute_capability else ""
    return f"{name}.{precision}.trt{trt_version}.{_slug(gpu_name)}{cc}.engine"


@dataclass
class BuildConfig:
    """Options of one engine build (the knobs ``trtexec`` exposes, as a plain struct)."""

    precision: str = "fp16"
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 8
    spatial: tuple[int, int] | None = None  # (H, W) when the model has dynamic spatial axes
    workspace_mb: int = 1024
    timing_cache: Path | None = None
    dla_core: int | None = None
    calibrator: Any = None  # an IInt8Calibrator for implicit INT8
    explicit_int8: bool = True
    extra_flags: list[str] = field(default_factory=list)

    def check(self) -> BuildConfig:
        if self.precision not in TRT_PRECISIONS:
            raise ConfigError(
                f"unknown TensorRT precision {self.precision!r}; valid: {', '.join(TRT_PRECISIONS)}"
            )
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ConfigError(
                "need 1 <= min_batch <= opt_batch <= max_batch, "
                f"got {self.min_batch}/{self.opt_batch}/{self.max_batch}"
            )
        return self


def _logger(t: Any) -> Any:
    return t.Logger(t.Logger.WARNING)


def _network_flags(t: Any) -> int:
    flag = getattr(t.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    version = trt_version_tuple(t.__version__)
    return (1 << int(flag)) if flag is not None and version < (10,) else 0


def _profile_shapes(shape: Sequence[int], cfg: BuildConfig, name: str) -> tuple[tuple[int, ...], ...]:
    out = []
    for batch in (cfg.min_batch, cfg.opt_batch, cfg.max_batch):
        dims = list(shape)
        dims[0] = batch
        dynamic = [i for i, d in enumerate(dims) if d < 0]
        if dynamic:
            if cfg.spatial is None or len(dynamic) > 2:
                raise ConfigError(
                    f"input {name!r} has dynamic axes {dynamic}: pass BuildConfig(spatial=(H, W))"
                )
            for axis, size in zip(dynamic[-2:], cfg.spatial):
                dims[axis] = size
        out.append(tuple(dims))
    return tuple(out)


def build_engine(onnx_path: Path, cfg: BuildConfig) -> bytes:
    """Parse ``onnx_path`` and return the serialised engine (``IHostMemory`` bytes).

    Raises:
        EngineError: the parser rejects the graph, or TensorRT builds nothing (its log says why).
    """
    cfg.check()
    t = trt()
    logger = _logger(t)
    builder = t.Builder(logger)
    network = builder.create_network(_network_flags(t))
    parser = t.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(t.MemoryPoolType.WORKSPACE, int(cfg.workspace_mb) << 20)
    if cfg.precision in ("fp16", "int8"):
        config.set_flag(t.BuilderFlag.FP16)  # INT8 engines keep unquantized layers in FP16
    if cfg.precision == "int8":
        config.set_flag(t.BuilderFlag.INT8)
        if cfg.calibrator is not None:
            config.int8_calibrator = cfg.calibrator
        elif not cfg.explicit_int8:
            raise ConfigError(
                "implicit INT8 needs a calibrator (EntropyCalibrator with the bundle's calib.cache)"
            )
    profile = builder.create_optimization_profile()
    dynamic = False
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(tensor.shape)
        if any(d < 0 for d in shape):
            dynamic = True
            lo, opt, hi = _profile_shapes(shape, cfg, tensor.name)
            profile.set_shape(tensor.name, lo, opt, hi)
    if dynamic:
        config.add_optimization_profile(profile)
        if cfg.precision == "int8" and cfg.calibrator is not None:
            config.set_calibration_profile(profile)
    if cfg.dla_core is not None:
        config.default_device_type = t.DeviceType.DLA
        config.DLA_core = int(cfg.dla_core)
        config.set_flag(t.BuilderFlag.GPU_FALLBACK)
    cache = None
    if cfg.timing_cache is not None:
        blob = Path(cfg.timing_cache).read_bytes() if Path(cfg.timing_cache).is_file() else b""
        cache = config.create_timing_cache(blob)
        config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(
            f"TensorRT failed to build a {cfg.precision} engine from {onnx_path} (see its log above)"
        )
    if cache is not None:
        Path(cfg.timing_cache).write_bytes(bytes(config.get_timing_cache().serialize()))
    return bytes(serialized)


def build_for_bundle(bundle: Bundle, precision: str, cache_dir: Path | None = None, **options: Any) -> Path:
    """Build (or reuse) the engine for ``bundle`` at ``precision`` on this GPU; return its path."""
    from .cuda_mem import gpu_identity

    t = trt()
    gpu, cc = gpu_identity()
    directory = Path(cache_dir) if cache_dir is not None else bundle.engines_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / engine_filename(bundle.name, precision, t.__version__, gpu, cc)
    source, cfg = _plan(bundle, precision, t.__version__, directory, options)
    sidecar = path.with_suffix(".json")
    identity = {
        "model": bundle.manifest["files"][source.name]["sha256"],
        "tensorrt": t.__version__,
        "gpu": gpu,
        "compute_capability": cc,
        "precision": precision,
        "batch": [cfg.min_batch, cfg.opt_batch, cfg.max_batch],
        "dla_core": cfg.dla_core,
    }
    if path.is_file() and sidecar.is_file() and not options.get("rebuild"):
        try:
            if json.loads(sidecar.read_text()) == identity:
                return path
        except (OSError, ValueError):
            pass
        log.warning("engine %s does not match this model/TensorRT/GPU: rebuilding", path.name)
    log.warning(
        "building TensorRT %s engine for %s (one-off; cached as %s)", precision, bundle.name, path.name
    )
    blob = build_engine(source, cfg)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    sidecar.write_text(json.dumps(identity, indent=2))
    return path


def _plan(
    bundle: Bundle, precision: str, version: str, directory: Path, options: dict[str, Any]
) -> tuple[Path, BuildConfig]:
    cfg = BuildConfig(
        precision=precision,
        max_batch=int(options.get("max_batch", 8)),
        opt_batch=int(options.get("opt_batch", 1)),
        workspace_mb=int(options.get("workspace_mb", 1024)),
        timing_cache=directory / f"timing.trt{version}.cache",
        dla_core=options.get("dla_core"),
        spatial=options.get("spatial"),
    ).check()
    if precision != "int8":
        return bundle.path("model.onnx"), cfg
    if supports_explicit_int8(version) and bundle.has("model.int8.onnx"):
        cfg.explicit_int8 = True
        return bundle.path("model.int8.onnx"), cfg
    if not bundle.has("calib.cache"):
        raise EngineError(
            f"bundle {bundle.root}: TensorRT {version} needs implicit INT8 but the bundle has no calib.cache"
        )
    from .trt_calibrator import EntropyCalibrator

    cfg.explicit_int8 = False
    cfg.calibrator = EntropyCalibrator(None, bundle.path("calib.cache"), read_only=True)
    return bundle.path("model.onnx"), cfg
