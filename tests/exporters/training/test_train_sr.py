"""SR training: paired data, loss goes down on a tiny set, acceptance test, weights round trip."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from biogate.errors import ConfigError
from biogate.exporters.nets.dual_sr import EDGE, DualChannelSR
from biogate.exporters.nets.rdn import RDN, RDNConfig
from biogate.exporters.training import train_sr

TINY = replace(EDGE, width=8, growth=4, n_dense=2, dense_depth=2, dict_atoms=32)


def test_metrics_on_known_images() -> None:
    rng = np.random.default_rng(0)
    ref = rng.random((3, 32, 32)).astype(np.float32)
    assert train_sr.psnr_y(ref, ref, 2) > 90
    assert train_sr.ssim_y(ref, ref, 2) == pytest.approx(1.0)
    noisy = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1).astype(np.float32)
    assert 20 < train_sr.psnr_y(noisy, ref, 2) < 35
    # Y of pure white is 235 (BT.601 studio range), of black 16
    assert train_sr.rgb_to_y(np.ones((3, 1, 1)))[0, 0] == pytest.approx(235.0)


def test_sample_set_pairs_are_aligned() -> None:
    lr, hr = train_sr.sample_set(np.random.default_rng(0), 4, 16, 2)
    assert lr.shape == (4, 3, 16, 16) and hr.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(train_sr.downscale(hr, 2), lr, atol=1e-6)
    assert lr.min() >= 0.0 and lr.max() <= 1.0


def test_held_out_faces_exclude_training_identities() -> None:
    hr, marks, ids = train_sr.held_out_faces(2)
    assert hr.shape[1:] == (3, 128, 128) and marks.shape == (len(hr), 5, 2)
    assert set(ids) == set(train_sr.HELD_OUT_IDENTITIES)


def test_training_reduces_loss_on_tiny_set() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = DualChannelSR(replace(TINY, image_skip=False))
    lr_np, hr_np = train_sr.sample_set(np.random.default_rng(1), 8, 16, 2)
    lr_t, hr_t = torch.from_numpy(lr_np), torch.from_numpy(hr_np)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=3e-3)
    first = None
    for _ in range(30):
        losses = train_sr._losses(net, lr_t, hr_t)
        assert len(losses) == 1 + TINY.n_dense  # main + one per auxiliary head
        total = sum(losses)
        opt.zero_grad()
        total.backward()
        opt.step()
        first = float(total.detach()) if first is None else first
    assert float(total.detach()) < 0.5 * first


def test_acceptance_sends_training_back_for_another_round(tmp_path) -> None:
    import json

    from biogate.cli.main import main
    from tests.exporters.training.tiny_layouts import write_folders

    assert train_sr.accept({"psnr_gain_db": 1.2, "ssim_gain": 0.01}, min_psnr_gain=1.0)
    assert not train_sr.accept({"psnr_gain_db": 0.8, "ssim_gain": 0.01}, min_psnr_gain=1.0)
    data = f"folders:{write_folders(tmp_path / 'faces', identities=6)}"
    for gain, rounds in ((50.0, ["round1", "round2"]), (-100.0, ["round1"])):
        out = tmp_path / f"run{gain}"
        args = ["train", "face_sr", "--data", data, "--out", str(out), "--steps", "2", "--batch", "4"]
        args += [
            "--folds",
            "3",
            "--set",
            "lr_size=16",
            "--set",
            f"min_psnr_gain={gain}",
            "--set",
            f"min_ssim_gain={gain}",
        ]
        args.append("--no-export")
        assert main([*args, "--no-progress", "--threads", "1", "--log-every", "1"]) == 0
        history = json.loads((out / "metrics.json").read_text())["history"]
        # an impossible +50 dB acceptance fails: a second round at half the learning rate follows
        assert sorted({row["phase"] for row in history}) == rounds


def test_untrained_skip_net_is_exactly_bicubic() -> None:
    m = train_sr.evaluate_net(DualChannelSR(TINY).eval(), 2)
    assert abs(m["psnr_gain_db"]) < 1e-6
    assert m["samples"] == 15


def test_save_load_round_trip(tmp_path) -> None:
    for net, arch in [
        (DualChannelSR(TINY), "dual"),
        (RDN(RDNConfig(width=8, growth=4, blocks=2, depth=2)), "rdn"),
    ]:
        path = tmp_path / f"{arch}.pt"
        train_sr.save_net(net, path, arch, {"note": "test"})
        back = train_sr.load_net(path)
        x = torch.rand(1, 3, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(back(x), net.eval()(x))
        assert train_sr.training_record(path) == {"note": "test"}
    with pytest.raises(ConfigError, match="no SR weights"):
        train_sr.load_net(tmp_path / "missing.pt")
