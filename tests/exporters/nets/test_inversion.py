"""Seed-003 inverse network: shapes, channel plan, residual layout, input noise, weight round trip."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from biogate.exporters.nets.inversion import (  # noqa: E402
    GaussianNoise,
    InverseNet,
    ResidualBlock,
    load_inverse_net,
    save_inverse_net,
)

torch.set_num_threads(1)


def test_full_width_is_the_seed_network() -> None:
    net = InverseNet(embed_dim=512)
    assert net.project[0].in_features == 512 and net.project[0].out_features == 8192
    assert isinstance(net.project[1], torch.nn.BatchNorm1d)
    tconvs = [m for m in net.blocks.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in tconvs] == [(512, 256), (256, 128), (128, 64), (64, 32)]
    assert sum(isinstance(m, ResidualBlock) for m in net.blocks) == 3  # one per gap
    assert isinstance(net.head[0], torch.nn.ConvTranspose2d) and isinstance(net.head[1], torch.nn.Sigmoid)


@pytest.mark.parametrize("residual", [0, 1, 2])
def test_shapes_per_stage(residual: int) -> None:
    net = InverseNet(embed_dim=128, width=0.25, residual_per_gap=residual).eval()
    assert sum(isinstance(m, ResidualBlock) for m in net.blocks) == 3 * residual
    sizes = []
    with torch.no_grad():
        h = net.project(torch.randn(2, 128)).view(2, net.channels[0], 4, 4)
        for m in net.blocks:
            h = m(h)
            sizes.append(tuple(h.shape[1:]))
    c = net.channels
    ups = [s for s, m in zip(sizes, net.blocks) if not isinstance(m, ResidualBlock)]
    assert ups == [(c[1], 8, 8), (c[2], 16, 16), (c[3], 32, 32), (c[4], 64, 64)]
    with torch.no_grad():
        out = net(torch.randn(2, 128))
    assert out.shape == (2, 3, 128, 128)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_noise_has_the_seed_variance_in_training_only() -> None:
    noise = GaussianNoise(0.001)
    x = torch.zeros(4000, 128)
    torch.manual_seed(0)
    n = noise.train()(x)
    assert abs(float(n.mean())) < 1e-3
    assert float(n.var()) == pytest.approx(0.001, rel=0.03)
    assert torch.equal(noise.eval()(x), x)
    net = InverseNet(width=0.25)
    assert net.noise.variance == 0.001


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        InverseNet(residual_per_gap=3)
    with pytest.raises(ValueError):
        GaussianNoise(-1.0)


def test_weights_round_trip(tmp_path) -> None:
    net = InverseNet(width=0.25, residual_per_gap=2).eval()
    path = tmp_path / "inv.pt"
    save_inverse_net(net, str(path), {"test_l1": 0.1})
    back, meta = load_inverse_net(str(path))
    assert back.config == net.config and meta["test_l1"] == 0.1
    x = torch.randn(3, 128)
    with torch.no_grad():
        assert torch.allclose(back(x), net(x), atol=5e-3)  # float16 storage
