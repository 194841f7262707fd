"""Dual-channel SR net: the spec's shape trace (§2.2.4) layer by layer, aux heads, configs."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from biogate.errors import ConfigError
from biogate.exporters.nets.dual_sr import EDGE, FAITHFUL, DualChannelSR, count_parameters
from biogate.exporters.nets.rdn import RDN, RDNConfig

# Spec §2.2.1–2.2.3 (batch 1, C×H×W), with §6 #2 (Conv3x3(3→3r²) + PixelShuffle) for Q2.
FAITHFUL_TRACE_X2 = [
    ("input", (1, 3, 64, 64)),
    ("U1.conv1x1_1", (1, 64, 64, 64)),
    ("U1.conv1x1_2", (1, 64, 64, 64)),
    ("U2.reshape", (1, 64, 1, 4096)),  # 64 channels x (1 x 4096)
    ("U3.dictionary", (1, 64, 1, 6144)),  # 64 channels x 6144
    ("U4.fc", (1, 64, 1, 4096)),  # 4096 neurons
    ("U5.reshape", (1, 64, 64, 64)),
    ("L1.conv3x3_1", (1, 64, 64, 64)),
    ("L1.conv3x3_2", (1, 64, 64, 64)),
    ("F1.add", (1, 64, 64, 64)),
    ("P1.conv3x3", (1, 64, 64, 64)),
]
for k in (1, 2, 3):
    for i in (1, 2, 3, 4):
        FAITHFUL_TRACE_X2 += [
            (f"P2.dense{k}.conv{i}", (1, 32, 64, 64)),
            (f"P2.dense{k}.concat{i}", (1, 64 + 32 * i, 64, 64)),
        ]
    FAITHFUL_TRACE_X2.append((f"P2.dense{k}.fuse1x1", (1, 64, 64, 64)))
FAITHFUL_TRACE_X2 += [
    ("P3.concat", (1, 192, 64, 64)),
    ("P4.conv1x1", (1, 64, 64, 64)),
    ("P5.residual", (1, 64, 64, 64)),
    ("Q1.conv3x3_1", (1, 64, 64, 64)),
    ("Q1.conv3x3_2", (1, 3, 64, 64)),  # the 3-channel "ninth feature map"
    ("Q2.conv3x3", (1, 12, 64, 64)),
    ("Q2.pixel_shuffle", (1, 3, 128, 128)),
]


def _meta_net(cfg, **kw) -> DualChannelSR:
    with torch.device("meta"):
        return DualChannelSR(cfg, torch.empty(cfg.dict_patch**2, cfg.dict_atoms), **kw)


def test_faithful_shape_trace_matches_spec() -> None:
    net = _meta_net(FAITHFUL)
    trace = net.trace(torch.empty(1, 3, 64, 64, device="meta"))
    assert trace == FAITHFUL_TRACE_X2
    # dictionary 4096 x 6144 frozen, FC 6144 -> 4096 shared by the 64 channels (~25.2 M weights)
    assert tuple(net.dictionary.dictionary.shape) == (4096, 6144)
    assert not net.dictionary.dictionary.requires_grad
    assert tuple(net.dictionary.fc.weight.shape) == (4096, 6144)


def test_faithful_x4_output() -> None:
    net = _meta_net(replace(FAITHFUL, scale=4))
    trace = dict(net.trace(torch.empty(2, 3, 64, 64, device="meta")))
    assert trace["Q2.conv3x3"] == (2, 48, 64, 64)
    assert trace["Q2.pixel_shuffle"] == (2, 3, 256, 256)


def test_aux_heads_training_only_and_inference_copy() -> None:
    torch.manual_seed(0)
    net = DualChannelSR(EDGE)
    x = torch.rand(2, 3, 32, 32)
    main, aux = net.forward_train(x)
    assert main.shape == (2, 3, 64, 64) and len(aux) == EDGE.n_dense
    assert all(a.shape == main.shape for a in aux)
    infer = net.without_aux()
    assert infer.aux is None
    with torch.no_grad():
        torch.testing.assert_close(infer(x), net(x))
        torch.testing.assert_close(net(x), main)
    # the frozen dictionary gets no gradient; everything else does
    main.sum().backward()
    assert net.dictionary.dictionary.grad is None
    assert net.dictionary.fc.weight.grad is not None
    assert count_parameters(net, trainable_only=True) < count_parameters(net)


def test_trainable_dictionary_flag() -> None:
    net = DualChannelSR(replace(EDGE, dict_trainable=True))
    net(torch.rand(1, 3, 16, 16)).sum().backward()
    assert net.dictionary.dictionary.grad is not None


def test_bad_configs_and_inputs() -> None:
    with pytest.raises(ConfigError, match="N > 1"):
        replace(EDGE, n_dense=1)
    with pytest.raises(ConfigError, match="must divide"):
        replace(FAITHFUL, dict_patch=48)
    with pytest.raises(ConfigError, match="dictionary"):
        DualChannelSR(EDGE, torch.zeros(10, 10))
    with pytest.raises(ConfigError, match="multiple of the dictionary patch"):
        DualChannelSR(EDGE)(torch.rand(1, 3, 30, 30))


def test_rdn_baseline_shapes() -> None:
    net = RDN(RDNConfig(scale=4))
    assert net(torch.rand(1, 3, 16, 16)).shape == (1, 3, 64, 64)
