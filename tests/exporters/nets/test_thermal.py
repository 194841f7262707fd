"""Seed-002 nets: pruning on a planted gradient, the RGB-weight schedule, shapes, one training step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biogate.exporters.nets.thermal import (
    EMBED_DIM,
    PretrainNet,
    ThermalExport,
    ThermalFaceNet,
    accumulate_first_layer_gradients,
    prune_first_layer,
    rgb_weight_schedule,
)

torch.set_num_threads(1)


def test_schedule_is_the_seed_default_and_configurable():
    assert rgb_weight_schedule() == [0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    assert rgb_weight_schedule(0.5, 0.25) == [0.5, 0.25, 0.0]
    assert rgb_weight_schedule(0.6, 0.2, 0.1) == [0.6, 0.4, 0.2, 0.1]
    assert rgb_weight_schedule(0.0) == [0.0]
    for bad in ((0.5, 0.0), (0.5, 0.1, 0.6), (1.5, 0.1)):
        with pytest.raises(ValueError):
            rgb_weight_schedule(*bad)


def test_pruning_keeps_the_slice_with_the_largest_accumulated_gradient():
    torch.manual_seed(0)
    net = PretrainNet(n_identities=4)
    planted = torch.zeros(16, 3)
    keep_truth = torch.tensor([i % 3 for i in range(16)])
    planted[torch.arange(16), keep_truth] = 1.0
    planted += 0.1  # every slice gets some gradient; the planted one the most

    def loss_fn(model, x, y):  # ∂L/∂W[o, c, :, :] = planted[o, c] on every tap
        return (model.first.weight * planted[:, :, None, None]).sum()

    grads = accumulate_first_layer_gradients(net, [(torch.zeros(1, 3, 8, 8), None)] * 3, loss_fn)
    assert torch.allclose(grads, 3 * 9 * planted)
    pruned, keep = prune_first_layer(net.first, grads)
    assert keep.tolist() == keep_truth.tolist()
    assert pruned.weight.shape == (16, 1, 3, 3)
    for o in range(16):
        assert torch.equal(pruned.weight[o, 0], net.first.weight[o, keep_truth[o]])
    with pytest.raises(ValueError):
        prune_first_layer(pruned, grads)


def test_thermal_gradients_are_collected_one_input_channel_at_a_time():
    torch.manual_seed(0)
    net = PretrainNet(n_identities=3).eval()
    x = torch.randn(4, 1, 64, 64)
    y = torch.tensor([0, 1, 2, 0])

    def loss_fn(model, xb, yb):
        return torch.nn.functional.cross_entropy(model.classifier(model(xb), yb), yb)

    replicated = accumulate_first_layer_gradients(net, [(x.repeat(1, 3, 1, 1), y)], loss_fn)
    # replication makes the three slices indistinguishable: the criterion could not choose
    assert torch.allclose(replicated[:, 0], replicated[:, 1], rtol=1e-4)
    assert torch.allclose(replicated[:, 0], replicated[:, 2], rtol=1e-4)
    isolated = accumulate_first_layer_gradients(net, [(x, y)], loss_fn)
    assert isolated.shape == (16, 3) and bool((isolated > 0).all())
    assert not torch.allclose(isolated[:, 0], isolated[:, 1], rtol=1e-2)
    # slice c's gradient is exactly the one of a pass with the thermal image in channel c alone
    x_g = torch.zeros(4, 3, 64, 64)
    x_g[:, 1] = x[:, 0]
    alone = accumulate_first_layer_gradients(net, [(x_g, y)], loss_fn)
    assert torch.allclose(isolated[:, 1], alone[:, 1])
    assert net.first.weight.grad is None  # left clean for training


def test_shapes_equal_primary_dims_and_pretrained_start():
    torch.manual_seed(0)
    pre = PretrainNet(n_identities=5).eval()
    pruned, _ = prune_first_layer(pre.first, torch.rand(16, 3))
    net = ThermalFaceNet.from_pretrained(pre, pruned).eval()
    rgb, ir = torch.randn(2, 3, 64, 64), torch.randn(2, 1, 64, 64)
    assert net.rgb_primary(rgb).shape == net.ir_primary(ir).shape == (2, 16, 32, 32)
    emb, temp = net.forward_ir(ir)
    assert emb.shape == (2, EMBED_DIM) and temp.shape == (2,)
    assert torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-5)
    with torch.no_grad():  # the Dirac extra conv: the RGB branch starts as the pre-trained model
        assert torch.allclose(net.forward_rgb(rgb), pre(rgb), atol=1e-3)
    e2, t2 = ThermalExport(net).eval()(ir)
    assert e2.shape == (2, EMBED_DIM) and t2.shape == (2, 1)
    assert torch.allclose(t2[:, 0], temp)


def test_a_tiny_mixed_training_reduces_the_loss():
    from biogate.exporters.training.train_thermal import TrainConfig, train_rounds

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n = 16
    ir_set = {
        "ir": rng.normal(0, 1, (n, 1, 64, 64)).astype(np.float32),
        "identity": np.arange(n) % 4,
        "core": rng.uniform(36, 39, n).astype(np.float32),
    }
    ir_set["ir"][:, :, 20:24, 20:40] += (ir_set["core"] - 33)[:, None, None, None] / 4  # warm band carries T
    rgb_set = {"rgb": rng.integers(0, 255, (n, 64, 64, 3), dtype=np.uint8), "identity": np.arange(n) % 4}
    pre = PretrainNet(4)
    net = ThermalFaceNet.from_pretrained(pre, prune_first_layer(pre.first, torch.rand(16, 3))[0])
    cfg = TrainConfig(epochs_per_round=6, batch=16, lr=3e-3)
    history = train_rounds(net, ir_set, rgb_set, [0.5, 0.0], cfg, log=lambda *_: None)
    first, last = history[0], history[-1]
    assert last["l_temp"] + last["l_id_ir"] < 0.7 * (first["l_temp"] + first["l_id_ir"])
    assert first["rgb_weight"] == 0.5 and last["rgb_weight"] == 0.0 and last["l_id_rgb"] == 0.0
