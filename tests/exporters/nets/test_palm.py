"""Seed 001 networks: SR and classifier shapes, the 0/1-loss surrogate, ONNX parity of both."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biogate.exporters.nets.palm import (  # noqa: E402
    PalmESPCN,
    PalmLivenessNet,
    PalmSRCNN,
    WithSoftmax,
    zero_one_loss,
    zero_one_surrogate,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("cls", [PalmSRCNN, PalmESPCN])
@pytest.mark.parametrize("scale", [2, 3])
def test_sr_output_is_scale_times_input(cls, scale):
    net = cls(scale=scale).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 1, 20, 24))
    assert tuple(y.shape) == (2, 1, 20 * scale, 24 * scale)


def test_srcnn_three_stages_map_to_a_higher_dimension_and_start_at_bicubic():
    net = PalmSRCNN().eval()
    assert net.mapping.out_channels > net.extract.out_channels
    assert net.reconstruct.out_channels == 1
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        assert torch.allclose(net(x), up, atol=0.05)  # residual head initialised near zero


@pytest.mark.parametrize("size", [64, 128])
def test_liveness_logits_and_softmax(size):
    net = PalmLivenessNet().eval()
    with torch.no_grad():
        logits = net(torch.rand(3, 1, size, size))
        probs = WithSoftmax(net)(torch.rand(3, 1, size, size))
    assert tuple(logits.shape) == (3, 2) and tuple(probs.shape) == (3, 2)
    assert torch.allclose(probs.sum(1), torch.ones(3), atol=1e-6)


def test_logistic_surrogate_bounds_the_zero_one_loss():
    margins = torch.linspace(-6, 6, 121)
    logits = torch.stack([torch.zeros_like(margins), margins], 1)  # label 1: margin = z1 - z0
    labels = torch.ones(len(margins), dtype=torch.long)
    per = [float(zero_one_surrogate(logits[i : i + 1], labels[i : i + 1])) for i in range(len(margins))]
    step = (margins < 0).float().tolist()
    assert all(s >= z - 1e-6 for s, z in zip(per, step))  # never under-states the 0/1 loss
    assert per[60] == pytest.approx(1.0)  # equals the second value at the decision boundary
    assert all(a >= b for a, b in zip(per, per[1:]))  # decreasing in the margin


def test_sigmoid_surrogate_tends_to_the_step_and_values_are_honoured():
    logits = torch.tensor([[0.0, 2.0], [0.0, -2.0]])
    labels = torch.tensor([1, 1])
    assert float(zero_one_loss(logits, labels)) == 0.5
    cold = float(zero_one_surrogate(logits, labels, kind="sigmoid", temperature=0.01))
    assert cold == pytest.approx(0.5, abs=1e-6)
    scaled = float(
        zero_one_surrogate(
            logits, labels, kind="sigmoid", temperature=0.01, first_value=0.2, second_value=3.0
        )
    )
    assert scaled == pytest.approx(0.2 + 2.8 * 0.5, abs=1e-5)


def test_surrogate_has_gradient_and_class_cost_weights_errors():
    logits = torch.tensor([[0.3, -0.1], [0.2, 0.4]], requires_grad=True)
    labels = torch.tensor([1, 0])
    loss = zero_one_surrogate(logits, labels)
    loss.backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0
    base = float(zero_one_surrogate(logits.detach(), labels))
    heavier = float(zero_one_surrogate(logits.detach(), labels, class_cost=(4.0, 1.0)))
    assert heavier > base
    with pytest.raises(ValueError, match="valid"):
        zero_one_surrogate(logits, labels, kind="hinge2")


def test_onnx_export_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    sr = PalmSRCNN().eval()
    live = WithSoftmax(PalmLivenessNet()).eval()
    x = torch.rand(2, 1, 32, 32)
    for name, net, inp, out in (("sr", sr, "lr", "sr"), ("live", live, "image", "prob")):
        path = tmp_path / f"{name}.onnx"
        torch.onnx.export(
            net,
            (x,),
            str(path),
            input_names=[inp],
            output_names=[out],
            dynamo=False,
            dynamic_axes={inp: {0: "n", 2: "h", 3: "w"}},
            opset_version=17,
        )
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            want = net(x).numpy()
        got = sess.run(None, {inp: x.numpy()})[0]
        assert np.abs(got - want).max() < 1e-4
