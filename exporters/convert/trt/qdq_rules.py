"""Does a QDQ ONNX model meet TensorRT's explicit-quantization rules?

TensorRT (≥ 8.0, and the only INT8 path from 10.1 on) builds INT8 from Q/DQ nodes it finds in
the graph.  It rejects or silently de-optimises graphs that break these rules, which this
checker reports before anything reaches a device:

* ``opset``: QuantizeLinear/DequantizeLinear with per-channel ``axis`` need opset ≥ 13.
* ``int8``: quantized type is signed int8 (uint8 zero-points are not supported).
* ``zero_point``: every zero-point is 0 (TensorRT quantization is symmetric).
* ``scale``: scales are constant initializers, finite and > 0.
* ``per_tensor_activation``: activation scales are scalars; only weights may be per-channel.
* ``weight_axis``: per-channel weight scales run along the output-channel axis (0 for Conv/Gemm
  weights, 1 for ConvTranspose) and match its length.
* ``pairing``: a QuantizeLinear output feeds only DequantizeLinear nodes; a DequantizeLinear
  reads a QuantizeLinear output or an int8 initializer.
* ``block``: no blocked quantization (``block_size``) for INT8.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MIN_OPSET = 13


@dataclass(frozen=True)
class Violation:
    """One broken rule at one node."""

    rule: str
    node: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.node}: {self.message}"


def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def check_model(model: Any) -> list[Violation]:
    """Every rule violation in the ONNX ``ModelProto`` (empty list = TensorRT-compatible)."""
    from onnx import TensorProto, numpy_helper

    out: list[Violation] = []
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consts = dict(inits)
    for node in graph.node:  # Constant nodes are initializers too, for this purpose
        if node.op_type == "Constant" and node.output:
            value = _attr(node, "value")
            if value is not None:
                consts[node.output[0]] = value
    producers = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    qdq = [n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    if qdq and opset < MIN_OPSET:
        out.append(Violation("opset", "<model>", f"opset {opset} < {MIN_OPSET} needed for per-channel Q/DQ"))
    for node in qdq:
        label = node.name or f"{node.op_type}({node.input[0]})"
        if _attr(node, "block_size", 0):
            out.append(Violation("block", label, "blocked quantization is not supported for INT8"))
        # scale
        scale_name = node.input[1] if len(node.input) > 1 else ""
        if scale_name not in consts:
            out.append(Violation("scale", label, f"scale {scale_name!r} is not a constant initializer"))
            scale = None
        else:
            scale = numpy_helper.to_array(consts[scale_name]).astype(np.float64)
            if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
                out.append(Violation("scale", label, "scale must be finite and > 0"))
        # zero point: type and value
        if len(node.input) > 2 and node.input[2]:
            zp_name = node.input[2]
            if zp_name not in consts:
                out.append(Violation("zero_point", label, f"zero-point {zp_name!r} is not a constant"))
            else:
                zp = consts[zp_name]
                if zp.data_type != TensorProto.INT8:
                    type_name = TensorProto.DataType.Name(zp.data_type)
                    out.append(
                        Violation("int8", label, f"quantized type is {type_name}, TensorRT INT8 needs INT8")
                    )
                if np.any(numpy_helper.to_array(zp) != 0):
                    out.append(
                        Violation("zero_point", label, "zero-point is not 0 (asymmetric quantization)")
                    )
        elif (
            node.op_type == "DequantizeLinear"
            and node.input[0] in inits
            and inits[node.input[0]].data_type != TensorProto.INT8
        ):
            out.append(Violation("int8", label, "dequantized initializer is not INT8"))
        is_weight = node.input[0] in consts or (
            node.op_type == "DequantizeLinear"
            and node.input[0] in producers
            and producers[node.input[0]].op_type == "QuantizeLinear"
            and producers[node.input[0]].input[0] in consts
        )
        if scale is not None and scale.size > 1:
            if not is_weight:
                out.append(Violation("per_tensor_activation", label, "activation scale must be per-tensor"))
            else:
                out.extend(_check_weight_axis(node, label, scale, consts, consumers))
        # pairing
        if node.op_type == "QuantizeLinear":
            for user in consumers.get(node.output[0], []):
                if user.op_type != "DequantizeLinear":
                    out.append(
                        Violation(
                            "pairing",
                            label,
                            f"output feeds {user.op_type} {user.name!r}, not DequantizeLinear",
                        )
                    )
        else:
            src = node.input[0]
            if src not in consts and (src not in producers or producers[src].op_type != "QuantizeLinear"):
                out.append(
                    Violation(
                        "pairing", label, "input is neither a QuantizeLinear output nor an int8 initializer"
                    )
                )
    return out


def _check_weight_axis(node, label, scale, consts, consumers) -> list[Violation]:
    from onnx import numpy_helper

    axis = int(_attr(node, "axis", 1))
    src = node.input[0]
    shape = numpy_helper.to_array(consts[src]).shape if src in consts else None
    users = consumers.get(node.output[0], [])
    if node.op_type == "QuantizeLinear":
        users = [u for dq in users for u in consumers.get(dq.output[0], [])]
    expected = 1 if any(u.op_type == "ConvTranspose" for u in users) else 0
    if any(u.op_type in ("MatMul",) for u in users) and shape is not None:
        expected = len(shape) - 1
    out = []
    if shape is not None:
        axis = axis % len(shape)
        if axis != expected:
            out.append(
                Violation("weight_axis", label, f"per-channel axis {axis}, TensorRT expects {expected}")
            )
        elif shape[axis] != scale.size:
            out.append(Violation("weight_axis", label, f"{scale.size} scales for {shape[axis]} channels"))
    return out


def check_file(path: str | Path) -> list[Violation]:
    """:func:`check_model` on the ONNX file at ``path``."""
    import onnx

    return check_model(onnx.load(str(path)))
