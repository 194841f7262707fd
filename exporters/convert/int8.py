"""INT8 post-training quantization with an accuracy gate (ONNX Runtime ``quantize_static``, QDQ).

Weights and activations are **symmetric signed int8** (zero-point 0) with per-channel weight
scales, so the same ``model.int8.onnx`` runs on ONNX Runtime CPU and builds in TensorRT with
explicit quantization.  :func:`quantize_gated` evaluates the INT8 model with the model's own
metric; when the drop exceeds ``int8_budget`` it ranks nodes by their quantization error
(:mod:`biogate.exporters.convert.sensitivity`) and retries with the worst kept in FP32.  The verdict
(fit or not, and why) goes into the bundle manifest.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biogate.exporters.convert.calibration import (
    CalibrationDataReader,
    CalibrationMethod,
    ort_method,
    resolve_method,
)
from biogate.exporters.convert.runners import ort_infer
from biogate.exporters.registry import ModelSpec

log = logging.getLogger(__name__)

#: Op types quantized by default; everything else stays float between Q/DQ pairs.
QUANTIZED_OPS = (
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "Add",
    "Mul",
    "Relu",
    "Clip",
    "MaxPool",
    "GlobalAveragePool",
    "AveragePool",
    "Concat",
    "Resize",
    "Reshape",
    "Flatten",
    "Transpose",
)


#: ``trt``: symmetric S8S8 for TensorRT (and ORT); ``cpu``: U8S8 for ONNX Runtime on x86.
FORMATS = ("trt", "cpu")
FORMAT_TEXT = {
    "trt": "QDQ S8S8: symmetric int8 activations and weights (zero-point 0), per-channel weights, float bias",
    "cpu": "QDQ U8S8: asymmetric uint8 activations, symmetric 7-bit int8 per-channel weights, int32 bias",
}


def quantize(
    fp32_path: Path,
    out_path: Path,
    reader: CalibrationDataReader,
    method: str | CalibrationMethod = CalibrationMethod.MINMAX,
    *,
    per_channel: bool = True,
    nodes_to_exclude: list[str] | None = None,
    percentile: float = 99.999,
    range_cache: Path | None = None,
    op_types: list[str] | None = None,
    fmt: str = "trt",
) -> Path:
    """Write a QDQ INT8 model of ``fp32_path`` to ``out_path``.

    ``fmt="trt"`` (the bundle's ``model.int8.onnx``): signed int8 activations and weights,
    symmetric (zero-point 0), per-channel weights, float biases — what TensorRT's explicit
    quantization accepts.  ``fmt="cpu"`` (``model.int8.cpu.onnx``): uint8 asymmetric
    activations × int8 weights (U8S8) with 7-bit weight range, ONNX Runtime's fast x86 path
    (VNNI/``VPMADDUBSW``; ``reduce_range`` avoids the saturation of ``VPMADDUBSW`` on CPUs
    without VNNI).  ``range_cache`` (a file) keeps the calibrated tensor ranges, so retries with
    other exclusions do not calibrate again.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown INT8 format {fmt!r}; valid: {', '.join(FORMATS)}")
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    method = resolve_method(method)
    cpu = fmt == "cpu"
    extra: dict[str, Any] = {"WeightSymmetric": True}
    if not cpu:
        extra.update(
            {
                "ActivationSymmetric": True,
                "CalibTensorRangeSymmetric": True,
                # TensorRT rejects DequantizeLinear on int32 biases (onnx/onnx-tensorrt#850).
                "QuantizeBias": False,
            }
        )
    if method is CalibrationMethod.PERCENTILE:
        extra["CalibPercentile"] = percentile
    reader.rewind()
    kwargs: dict[str, Any] = {}
    if range_cache is not None:
        kwargs["calibration_cache_path"] = str(range_cache)
    logging.getLogger().disabled, was = True, logging.getLogger().disabled  # ORT logs pre-processing advice
    try:
        quantize_static(
            str(fp32_path),
            str(out_path),
            reader,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(op_types or QUANTIZED_OPS),
            per_channel=per_channel,
            reduce_range=cpu,
            activation_type=QuantType.QUInt8 if cpu else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(nodes_to_exclude or []),
            calibrate_method=ort_method(method),
            extra_options=extra,
            **kwargs,
        )
    finally:
        logging.getLogger().disabled = was
    return Path(out_path)


def metric_drop(spec: ModelSpec, fp32: float, int8: float) -> float:
    """How much worse INT8 is in the metric's bad direction (negative = INT8 is better)."""
    return fp32 - int8 if spec.higher_is_better else int8 - fp32


@dataclass
class Int8Verdict:
    """What the gate decided; serialised into ``manifest["int8"]``."""

    fit: bool
    method: str
    fp32_metric: float
    int8_metric: float
    drop: float
    budget: float
    excluded_nodes: list[str] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    int8_metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    fmt: str = "trt"

    def to_json(self) -> dict[str, Any]:
        return {
            "available": True,
            "fit": self.fit,
            "reason": self.reason,
            "method": self.method,
            "metric_fp32": self.fp32_metric,
            "metric_int8": self.int8_metric,
            "metric_drop": self.drop,
            "budget": self.budget,
            "excluded_nodes": list(self.excluded_nodes),
            "attempts": list(self.attempts),
            "sensitivity_top": list(self.sensitivity[:10]),
            "format": FORMAT_TEXT[self.fmt],
        }


def quantize_gated(
    spec: ModelSpec,
    fp32_path: Path,
    out_path: Path,
    reader: CalibrationDataReader,
    fp32_metric: float,
    method: str | CalibrationMethod = CalibrationMethod.MINMAX,
    *,
    max_retries: int = 2,
    exclude_fraction: float = 0.1,
    per_channel: bool = True,
    fmt: str = "trt",
) -> Int8Verdict:
    """Quantize, evaluate with ``spec.evaluate``, and retry excluding the most sensitive nodes.

    Each retry keeps ``exclude_fraction`` more of the quantizable nodes (worst first) in FP32.
    The last attempt's model stays at ``out_path`` whatever the verdict.
    """
    from biogate.exporters.convert.sensitivity import rank_nodes

    method = resolve_method(method)
    budget = float(spec.int8_budget)
    excluded: list[str] = []
    attempts: list[dict[str, Any]] = []
    ranking: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="biogate-q-") as tmp:
        cache = Path(tmp) / "ranges.json"
        for attempt in range(max_retries + 1):
            quantize(
                fp32_path,
                out_path,
                reader,
                method,
                per_channel=per_channel,
                nodes_to_exclude=excluded,
                range_cache=cache,
                op_types=[op for op in QUANTIZED_OPS if op not in spec.int8_exclude_ops],
                fmt=fmt,
            )
            # The TensorRT file is judged by TensorRT's numerics (unfused QDQ), not by the int8
            # kernels of whatever CPU builds the bundle; the CPU file by the kernels it will run on.
            metrics = spec.evaluate(ort_infer(out_path, fuse_qdq=fmt == "cpu"))
            int8_metric = float(metrics["metric"])
            drop = metric_drop(spec, fp32_metric, int8_metric)
            attempts.append({"excluded": len(excluded), "metric_int8": int8_metric, "drop": drop})
            log.info(
                "%s int8 attempt %d: %s %.5g (drop %.5g, budget %.5g, %d nodes fp32)",
                spec.name,
                attempt,
                spec.metric,
                int8_metric,
                drop,
                budget,
                len(excluded),
            )
            if drop <= budget or attempt == max_retries or not math.isfinite(drop):
                break
            if not ranking:
                ranking = rank_nodes(fp32_path, out_path, reader)
            step = max(1, math.ceil(exclude_fraction * len(ranking)))
            excluded = [r["node"] for r in ranking[: len(excluded) + step]]
            if len(excluded) == attempts[-1]["excluded"]:
                break  # nothing more to exclude
    fit = bool(math.isfinite(drop) and drop <= budget)
    reason = (
        f"{spec.metric} drop {drop:.4g} within budget {budget:.4g}"
        if fit
        else f"{spec.metric} drop {drop:.4g} exceeds budget {budget:.4g} after {len(attempts)} attempt(s)"
    )
    return Int8Verdict(
        fit,
        method.value,
        fp32_metric,
        int8_metric,
        drop,
        budget,
        excluded,
        attempts,
        ranking,
        {k: float(v) for k, v in metrics.items()},
        reason,
        fmt,
    )
