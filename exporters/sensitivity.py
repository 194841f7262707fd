"""Per-node INT8 sensitivity: which nodes lose the most when their tensors are quantized.

For every activation the QDQ model quantizes, the FP32 model's real values on calibration
samples are fake-quantized with the QDQ scale (symmetric int8) and the relative error
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

from biogate.exporters.calibration import CalibrationDataReader


def _fake_quant(x: np.ndarray, scale: np.ndarray, axis: int | None = None) -> np.ndarray:
    if axis is not None and scale.size > 1:
        shape = [1] * x.ndim
        shape[axis] = scale.size
        scale = scale.reshape(shape)
    return np.clip(np.round(x / scale), -127, 127) * scale


def _rel_err(x: np.ndarray, q: np.ndarray) -> float:
    norm = float(np.linalg.norm(x))
    return float(np.linalg.norm(x - q) / norm) if norm > 0 else 0.0


def qdq_scales(qdq_model: Any) -> dict[str, tuple[np.ndarray, int | None]]:
    """tensor name → (scale, axis) for each QuantizeLinear/weight DequantizeLinear of a QDQ model."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in qdq_model.graph.initializer}
    out: dict[str, tuple[np.ndarray, int | None]] = {}
    for node in qdq_model.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[1] in inits:
            axis = next((a.i for a in node.attribute if a.name == "axis"), None)
            out[node.input[0]] = (inits[node.input[1]].astype(np.float64), axis)
    return out


def rank_nodes(
    fp32_path: Path, qdq_path: Path, reader: CalibrationDataReader, max_samples: int = 8
) -> list[dict[str, Any]]:
    """Nodes of the FP32 graph, worst quantization error first: ``[{node, op, error}, ...]``."""
    import onnx
    from onnx import numpy_helper

    from biogate.exporters.runners import ort_session

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
            scale, axis = scales[name]
            errors[name] = _rel_err(w, _fake_quant(w, scale, axis))
    with_scales_w = _weight_scales_from_dq(onnx.load(str(qdq_path)))
    for name, (scale, axis) in with_scales_w.items():
        if name in weights:
            errors[name] = _rel_err(weights[name], _fake_quant(weights[name], scale, axis))
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
                    scale, axis = scales[n]
                    sums[n].append(_rel_err(x, _fake_quant(x, scale, axis)))
            for n, errs in sums.items():
                errors[n] = float(np.mean(errs)) if errs else 0.0
    ranking = []
    for node in fp32.graph.node:
        touched = [errors[t] for t in list(node.input) + list(node.output) if t in errors]
        if touched and node.name:
            ranking.append({"node": node.name, "op": node.op_type, "error": max(touched)})
    ranking.sort(key=lambda r: -r["error"])
    return ranking


def _weight_scales_from_dq(qdq_model: Any) -> dict[str, tuple[np.ndarray, int | None]]:
    """Weights stored as int8 initializers feed DequantizeLinear; map the float name back."""
    from onnx import numpy_helper

    inits = {i.name: i for i in qdq_model.graph.initializer}
    out: dict[str, tuple[np.ndarray, int | None]] = {}
    for node in qdq_model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        q_name = node.input[0]
        base = q_name[: -len("_quantized")] if q_name.endswith("_quantized") else None
        if base and node.input[1] in inits:
            axis = next((a.i for a in node.attribute if a.name == "axis"), None)
            out[base] = (numpy_helper.to_array(inits[node.input[1]]).astype(np.float64), axis)
    return out
