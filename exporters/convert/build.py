"""``export()``: one registered model → one verified bundle (DESIGN.md §3).

Stages, each a small module of its own: build the trained PyTorch module → ONNX
(:mod:`~biogate.exporters.convert.onnx_export`) → parity on real samples
(:mod:`~biogate.exporters.convert.parity`) → FP32 metric with the model's own evaluation → optional
INT8 with the accuracy gate (:mod:`~biogate.exporters.convert.int8`) and CPU latency of both →
TensorRT calibration cache and explicit-quantization check → ``manifest.json`` with every
file's sha256 and, for a deciding model, its fitness verdict → ``manifest.sig`` (Ed25519), all
verified by the device-side reader before ``export`` returns.

The bundle is assembled in a temporary sibling directory and moved into place at the end,
so a failed export never leaves a half-written bundle behind.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from biogate.bundle import Bundle, open_bundle
from biogate.bundle.signing import SigningKey, load_or_create_signing_key
from biogate.engine.precision import MIN_SPEEDUP
from biogate.exporters import registry
from biogate.exporters.registry import ModelSpec

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
CPU_INT8 = "model.int8.cpu.onnx"


def _resolve(model: str | ModelSpec) -> ModelSpec:
    return model if isinstance(model, ModelSpec) else registry.get(model)


def _batch1(reader_samples: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    first = next(iter(reader_samples))
    return {k: v[:1] for k, v in first.items()}


def export(
    model: str | ModelSpec,
    out_dir: str | Path,
    *,
    int8: bool = False,
    calib_method: str | None = None,
    calib_samples: int | None = None,
    calibration_data: Callable[[int], Iterable[dict[str, np.ndarray]]] | None = None,
    opset: int = 17,
    simplify: bool = False,
    max_retries: int = 2,
    parity_samples: int = 16,
    measure_latency: bool = True,
    trt: bool = False,
    trt_precisions: tuple[str, ...] = ("fp16",),
    progress: Progress | None = None,
    signing_key: SigningKey | str | Path | None = None,
) -> Bundle:
    """Export ``model`` (a registered name or a :class:`ModelSpec`) to ``out_dir/<name>/``.

    Args:
        model: registry name (``biogate.exporters.registry.names()``) or a spec.
        out_dir: parent directory; the bundle is ``out_dir/<name>`` (replaced if present).
        int8: also calibrate ``model.int8.onnx`` and gate it on the model's own metric.
        calib_method: ``minmax`` | ``entropy`` | ``percentile`` (default: the spec's).
        calib_samples: calibration sample count (default: the spec's ``calib_samples``).
        calibration_data: override the spec's calibration source (same signature).
        opset: ONNX opset, at least 17.
        simplify: run onnxslim/onnxsim when installed.
        max_retries: INT8 retries, each keeping more of the most sensitive nodes in FP32.
        parity_samples: real samples for the ONNX-vs-PyTorch parity check.
        measure_latency: record CPU latency of FP32 (and INT8) in the manifest.
        trt: also build TensorRT engines into ``engines/`` (needs tensorrt on this machine).
        trt_precisions: engine precisions to build with ``trt``.
        progress: called with a short stage name as each stage starts (the CLI's tqdm).
        signing_key: the Ed25519 key (or its file) that signs ``manifest.json``; default this
            user's key, created on first use (:mod:`biogate.bundle.signing`).

    Returns:
        The verified :class:`biogate.bundle.Bundle`.

    Raises:
        ConfigError: unknown model or bad option.  ParityError: the ONNX graph does not
        reproduce PyTorch.  EngineError: the graph fails the ONNX checker.
    """
    from biogate.exporters.convert import onnx_export, parity, runners
    from biogate.exporters.convert.calibration import CalibrationDataReader, resolve_method

    spec = _resolve(model)
    # Resolve the key first: a missing or unreadable key must fail before minutes of export.
    key = signing_key if isinstance(signing_key, SigningKey) else load_or_create_signing_key(signing_key)
    note = progress or (lambda stage: log.info("%s: %s", spec.name, stage))
    method = resolve_method(calib_method or spec.calib_method)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / spec.name
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=out_dir))
    try:
        note("build")
        module = spec.build()
        note("onnx")
        fp32_path = onnx_export.to_onnx(spec, module, work / "model.onnx", opset=opset)
        simplified = onnx_export.simplify(fp32_path) if simplify else False
        onnx_export.fold_initializer_identities(fp32_path)
        _name_nodes(fp32_path)
        note("parity")
        report = parity.compare(
            runners.torch_infer(spec, module),
            runners.ort_infer(fp32_path),
            spec.calibration_data(parity_samples),
            atol=spec.parity_atol,
            min_cosine=spec.parity_min_cosine,
        )
        parity.check(report, f"model {spec.name}")
        note("evaluate fp32")
        fp32_metrics = {k: float(v) for k, v in spec.evaluate(runners.ort_infer(fp32_path)).items()}
        reader = CalibrationDataReader.from_spec(spec, calib_samples or spec.calib_samples, calibration_data)
        sample1 = _batch1(reader)
        metrics: dict[str, Any] = {
            "metric": spec.metric,
            "higher_is_better": spec.higher_is_better,
            "fp32": fp32_metrics,
            "parity": report.to_json(),
        }
        sections: dict[str, Any] = {}
        latency: dict[str, Any] = {}
        if int8:
            try:
                sections.update(
                    _int8_stage(spec, work, fp32_path, reader, fp32_metrics, method, max_retries, note)
                )
            except Exception as exc:  # an op ORT cannot quantize must not cost the FP32 bundle
                log.warning("%s: INT8 quantization failed, shipping FP32 only: %s", spec.name, exc)
                for name in ("model.int8.onnx", CPU_INT8, "calib.cache"):
                    (work / name).unlink(missing_ok=True)
                int8 = False
                sections["int8"] = {"available": False, "fit": False, "reason": f"quantization failed: {exc}"}
            else:
                metrics["int8"] = sections["int8"].pop("_metrics")
                metrics["int8_cpu"] = sections["int8"].pop("_cpu_metrics")
        if measure_latency:
            note("latency")
            latency = _latency_stage(work, sample1, int8)
            metrics["latency_ms"] = latency
        recommended = {"cpu": "fp32", "tensorrt": "fp16"}
        if int8:
            verdict = sections["int8"]
            _choose_cpu_int8(work, verdict, latency, metrics)
            if verdict["cpu"]["fit"] and verdict["faster_on_cpu"]:
                recommended["cpu"] = "int8"
            if verdict["fit"] and verdict.get("tensorrt", {}).get("explicit_ok"):
                recommended["tensorrt"] = "int8"
        from biogate.exporters.convert.bundle_writer import write_manifest

        sections["calibration"] = {
            "method": method.value if int8 else None,
            "samples": len(reader),
            "description": spec.calibration_description or "the model's calibration_data()",
            "sha256": reader.digest(),
        }
        sections["export"] = {
            "opset": onnx_export.opset_of(fp32_path),
            "dynamic_batch": True,
            "simplified": simplified,
            "seconds": None,
        }
        note("manifest")
        sections["export"]["seconds"] = round(time.perf_counter() - started, 2)
        write_manifest(work, spec, key, metrics=metrics, recommended_precision=recommended, **sections)
        if final.exists():
            shutil.rmtree(final)  # the old bundle's device-built engines are stale too
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    bundle = open_bundle(final, trusted_keys=[key.public])
    if trt:
        note("tensorrt")
        from biogate.exporters.convert.trt import build_bundle_engines

        build_bundle_engines(bundle, precisions=trt_precisions)
    return bundle


def _name_nodes(path: Path) -> None:
    """Give every node a unique name: INT8 exclusion lists and sensitivity refer to them."""
    import onnx

    model = onnx.load(str(path))
    seen: set[str] = set()
    changed = False
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
            changed = True
        seen.add(node.name)
    if changed:
        onnx.save(model, str(path))


def _int8_stage(spec, work, fp32_path, reader, fp32_metrics, method, max_retries, note) -> dict[str, Any]:
    from biogate.exporters.convert.int8 import quantize_gated
    from biogate.exporters.convert.trt.calib_cache import write_from_qdq
    from biogate.exporters.convert.trt.qdq_rules import check_file

    note(f"int8 ({method.value})")
    int8_path = work / "model.int8.onnx"
    verdict = quantize_gated(
        spec, fp32_path, int8_path, reader, fp32_metrics["metric"], method, max_retries=max_retries
    )
    section = verdict.to_json()
    section["_metrics"] = verdict.int8_metrics
    violations = check_file(int8_path)
    section["tensorrt"] = {
        "explicit_ok": not violations,
        "violations": [str(v) for v in violations[:20]],
        "calib_cache": "calib.cache",
    }
    write_from_qdq(int8_path, work / "calib.cache")
    # ONNX Runtime on x86 is fast with U8S8, not with TensorRT's symmetric S8S8: gate that too.
    cpu = quantize_gated(
        spec,
        fp32_path,
        work / CPU_INT8,
        reader,
        fp32_metrics["metric"],
        method,
        max_retries=max_retries,
        fmt="cpu",
    )
    section["_cpu_metrics"] = cpu.int8_metrics
    section["_cpu_candidate"] = {
        "file": CPU_INT8,
        "format": cpu.to_json()["format"],
        "fit": cpu.fit,
        "reason": cpu.reason,
        "metric_int8": cpu.int8_metric,
        "metric_drop": cpu.drop,
        "excluded_nodes": cpu.excluded_nodes,
    }
    return {"int8": section}


def _choose_cpu_int8(
    work: Path, verdict: dict[str, Any], latency: dict[str, Any], metrics: dict[str, Any]
) -> None:
    """Record the INT8 file ONNX Runtime CPU runs: the CPU-format file, and only if it passed its gate.

    The TensorRT file is never run by ONNX Runtime CPU: it is gated on TensorRT's numerics (unfused
    QDQ), which ONNX Runtime's fused S8S8 kernels do not reproduce on AVX2 CPUs without VNNI (they
    saturate) — picking it for CPU would ship a verdict measured on other arithmetic.  An unfit CPU
    file is removed (CPU then runs FP32); ``verdict["cpu"]`` records the verdict either way.
    """
    chosen = verdict.pop("_cpu_candidate")
    lat = latency.get("cpu_int8_cpu_format")
    if not chosen["fit"]:
        (work / CPU_INT8).unlink(missing_ok=True)
        metrics.pop("int8_cpu", None)
    verdict["cpu"] = chosen
    if lat is not None:
        latency["cpu_int8"] = lat
        # The device applies the same noise margin (biogate.engine.precision.MIN_SPEEDUP).
        verdict["faster_on_cpu"] = lat * MIN_SPEEDUP <= latency["cpu_fp32"]
        verdict["cpu_speedup"] = latency["cpu_fp32"] / lat
    else:
        verdict["faster_on_cpu"] = None


def _latency_stage(work: Path, sample1: dict[str, np.ndarray], int8: bool) -> dict[str, Any]:
    from biogate.exporters.convert.latency import compare_latency

    paths = {"fp32": work / "model.onnx"}
    if int8:
        paths["int8_trt_format"] = work / "model.int8.onnx"
        paths["int8_cpu_format"] = work / CPU_INT8
    p50 = compare_latency(paths, sample1)
    out: dict[str, Any] = {f"cpu_{k}": round(v, 4) for k, v in p50.items()}
    out.update(
        {
            "clock": "thread CPU time",
            "batch": 1,
            "threads": 1,
            "statistic": "median of 3 interleaved p50s",
            "provider": "CPUExecutionProvider",
        }
    )
    return out


def export_all(out_dir: str | Path, **options: Any) -> list[Bundle]:
    """Export every registered model to ``out_dir/<name>/`` with the same options."""
    return [export(name, out_dir, **options) for name in registry.names()]
