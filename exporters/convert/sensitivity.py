"""Per-node INT8 sensitivity: which nodes lose the most when their tensors are quantized.

For every activation the QDQ model quantizes, the FP32 model's real values on calibration
samples are fake-quantized with the QDQ scale and zero point and the relative error
``‖x − q(x)‖ / ‖x‖`` is measured; weights are scored the same way with their per-channel
scales.  A node's score is the worst error among its quantized inputs and output, so both
clipping (range too small) and coarse steps (range too large) show up.  Cheap: one FP32
run, no re-quantization.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.convert.calibration import CalibrationDataReader


def _fake_quant(x: np.ndarray, q: tuple[np.ndarray, int | None, np.ndarray, int, int]) -> np.ndarray:
    """Quantize-dequantize ``x`` with (scale, axis, zero_point, qmin, qmax)."""
    scale, axis, zero, lo, hi = q
    if scale.size > 1:
        axis = 1 if axis is None else axis  # ONNX's default per-channel axis
        shape = [1] * x.ndim
        shape[axis] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (np.clip(np.round(x / scale) + zero, lo, hi) - zero) * scale


def _rel_err(x: np.ndarray, q: np.ndarray) -> float:
    norm = float(np.linalg.norm(x))
    return float(np.linalg.norm(x - q) / norm) if norm > 0 else 0.0


def _qparams(node: Any, inits: dict[str, Any]) -> tuple[np.ndarray, int | None, np.ndarray, int, int]:
    from onnx import numpy_helper

    scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
    axis = next((a.i for a in node.attribute if a.name == "axis"), None)
    if len(node.input) > 2 and node.input[2] in inits:
        zp = numpy_helper.to_array(inits[node.input[2]])
        info = np.iinfo(zp.dtype)
        return scale, axis, zp.astype(np.float64), int(info.min), int(info.max)
    return scale, axis, np.zeros_like(scale), 0, 255  # ONNX default zero point: uint8 0


def qdq_scales(qdq_model: Any) -> dict[str, tuple[np.ndarray, int | None, np.ndarray, int, int]]:
    """tensor name → (scale, axis, zero point, qmin, qmax) of each QuantizeLinear in a QDQ model."""
    inits = {i.name: i for i in qdq_model.graph.initializer}
    out = {}
    for node in qdq_model.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[1] in inits:
            out[node.input[0]] = _qparams(node, inits)
    return out


def rank_nodes(
    fp32_path: Path, qdq_path: Path, reader: CalibrationDataReader, max_samples: int = 8
) -> list[dict[str, Any]]:
    """Nodes of the FP32 graph, worst quantization error first: ``[{node, op, error}, ...]``."""
    import onnx
    from onnx import numpy_helper

    from biogate.exporters.convert.runners import ort_session

    fp32 = onnx.load(str(fp32_path))
    scales = qdq_scales(onnx.load(str(qdq_path)))
    weights = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in fp32.graph.initializer}
    graph_outputs = {o.name for o in fp32.graph.output}
    existing = {o for n in fp32.graph.node for o in n.output} | {i.name for i in fp32.graph.input}
    activations = [t for t in scales if t not in weights and t in existing]
    for name in activations:
        if name not in graph_outputs:
            fp32.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    errors: dict[str, float] = {}
    # Weights: quantized either by a QuantizeLinear on the float initializer or stored as int8.
    for name, w in weights.items():
        if name in scales:
            errors[name] = _rel_err(w, _fake_quant(w, scales[name]))
    with_scales_w = _weight_scales_from_dq(onnx.load(str(qdq_path)))
    for name, q in with_scales_w.items():
        if name in weights:
            errors[name] = _rel_err(weights[name], _fake_quant(weights[name], q))
    if activations:
        with tempfile.TemporaryDirectory(prefix="biogate-sens-") as tmp:
            path = Path(tmp) / "augmented.onnx"
            onnx.save(fp32, str(path))
            session = ort_session(path)
            names = [o.name for o in session.get_outputs()]
            sums: dict[str, list[float]] = {n: [] for n in activations}
            for i, sample in enumerate(reader):
                if i >= max_samples:
                    break
                values = dict(zip(names, session.run(names, sample)))
                for n in activations:
                    x = values[n].astype(np.float64)
                    sums[n].append(_rel_err(x, _fake_quant(x, scales[n])))
            for n, errs in sums.items():
                errors[n] = float(np.mean(errs)) if errs else 0.0
    ranking = []
    for node in fp32.graph.node:
        touched = [errors[t] for t in list(node.input) + list(node.output) if t in errors]
        if touched and node.name:
            ranking.append({"node": node.name, "op": node.op_type, "error": max(touched)})
    ranking.sort(key=lambda r: -r["error"])
    return ranking


def _weight_scales_from_dq(qdq_model: Any) -> dict[str, tuple[np.ndarray, int | None, np.ndarray, int, int]]:
    """Weights stored as int8 initializers feed DequantizeLinear; map the float name back."""
    inits = {i.name: i for i in qdq_model.graph.initializer}
    out = {}
    for node in qdq_model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        q_name = node.input[0]
        if q_name.endswith("_quantized") and node.input[1] in inits:
            out[q_name[: -len("_quantized")]] = _qparams(node, inits)
    return out
