"""TensorRT explicit-quantization rules on tiny hand-built QDQ graphs.

Graph under test (good case)::

    x ─Q(s,zp=0)─DQ─┐
    W(int8) ──DQ(per-channel axis 0)─ Conv ─ y
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from biogate.exporters.convert.trt.qdq_rules import check_model


def _model(
    act_zp=0,
    act_zp_type=TensorProto.INT8,
    w_scale=None,
    w_axis=0,
    act_scale=0.02,
    opset=17,
    q_feeds_relu=False,
    w_dtype=np.int8,
):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), dtype=w_dtype), "w_q")
    w_scale = np.full(4, 0.01, np.float32) if w_scale is None else w_scale
    inits = [
        numpy_helper.from_array(np.asarray(act_scale, np.float32), "x_scale"),
        helper.make_tensor("x_zp", act_zp_type, [], [act_zp]),
        w,
        numpy_helper.from_array(w_scale, "w_scale"),
        numpy_helper.from_array(np.zeros(w_scale.shape, np.int8), "w_zp"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["x_q"], name="q_x"),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zp"], ["x_dq"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w_dq"], name="dq_w", axis=w_axis),
        helper.make_node("Conv", ["x_dq", "w_dq"], ["y"], name="conv", pads=[1, 1, 1, 1]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])]
    if q_feeds_relu:
        nodes.append(helper.make_node("Relu", ["x_q"], ["r"], name="bad_relu"))
        outputs.append(helper.make_tensor_value_info("r", TensorProto.INT8, [1, 3, 8, 8]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])], outputs, inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _rules(model):
    return sorted({v.rule for v in check_model(model)})


def test_good_graph_passes():
    model = _model()
    onnx.checker.check_model(model)
    assert check_model(model) == []


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"act_zp": 3}, "zero_point"),
        ({"act_zp_type": TensorProto.UINT8, "act_zp": 128}, "int8"),
        ({"act_scale": np.float32(0.0)}, "scale"),
        ({"act_scale": np.full(3, 0.1, np.float32)}, "per_tensor_activation"),
        ({"w_axis": 1, "w_scale": np.full(3, 0.01, np.float32)}, "weight_axis"),
        ({"w_scale": np.full(2, 0.01, np.float32)}, "weight_axis"),
        ({"opset": 11}, "opset"),
        ({"q_feeds_relu": True}, "pairing"),
    ],
)
def test_bad_graphs_name_the_broken_rule(kwargs, rule):
    violations = check_model(_model(**kwargs))
    assert rule in {v.rule for v in violations}, violations
    assert all(v.node for v in violations)


def test_int32_bias_dequantize_is_flagged():
    model = _model()
    bias = numpy_helper.from_array(np.zeros(4, np.int32), "b_q")
    model.graph.initializer.extend([bias, numpy_helper.from_array(np.full(4, 2e-4, np.float32), "b_scale")])
    model.graph.node.insert(
        3, helper.make_node("DequantizeLinear", ["b_q", "b_scale"], ["b_dq"], name="dq_b")
    )
    model.graph.node[-1].input.append("b_dq")
    assert "int8" in _rules(model)
