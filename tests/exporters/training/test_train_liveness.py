"""One alternating G/D step on genuine faces: G and D learn, the identity network stays frozen."""

from __future__ import annotations

import numpy as np
import torch

from biogate.exporters.nets.liveness import Discriminator, LivenessConfig, LivenessGenerator
from biogate.exporters.pad.protocol import HD_MIN_SIDE, render_work, to_tensor_layout
from biogate.exporters.registry import get
from biogate.exporters.training.liveness_augment import augment, augment_heavy, batches
from biogate.exporters.training.train_liveness import LossWeights, train_identity, train_step, training_faces
from biogate.exporters.zoo import face_liveness

CFG = LivenessConfig(
    input_size=16,
    width=4,
    latent_channels=4,
    deep_channels=4,
    head_channels=4,
    disc_widths=(4, 4, 4, 4, 4, 4),
)


def _faces(n: int = 6) -> list[np.ndarray]:
    from skimage import data

    lfw = (data.lfw_subset()[:n] * 255).astype(np.uint8)
    return [np.repeat(f[..., None], 3, axis=2) for f in lfw]


def test_one_alternating_step_updates_g_and_d_only() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    works = [render_work(f, 16) for f in _faces()]
    identity = train_identity(works, 16, steps=2, seed=0)
    gen, disc = LivenessGenerator(CFG), Discriminator(CFG)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-3, betas=(0.9, 0.999))
    image, _ = next(batches(works, 16, 4, np.random.default_rng(0)))
    assert image.shape == (4, 3, 16, 16) and float(image.min()) >= -1.0 and float(image.max()) <= 1.0
    before_g = [p.detach().clone() for p in gen.parameters()]
    before_d = [p.detach().clone() for p in disc.parameters()]
    before_f = [p.detach().clone() for p in identity.parameters()]
    out, d_loss, g_loss, parts = train_step(gen, disc, identity, opt_g, opt_d, image, LossWeights())
    assert np.isfinite([d_loss, g_loss, *parts.values()]).all()
    assert set(parts) == {"pixel", "adversarial", "identity", "latent"}
    assert out.reconstruction.shape == image.shape
    assert any(not torch.equal(a, b) for a, b in zip(before_g, gen.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, disc.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(before_f, identity.parameters()))
    # E2 gets gradient through the latent loss, E1's separation heads through the pixel loss
    assert gen.re_encoder.to_background.weight.grad is not None
    assert gen.encoder.to_background.weight.grad is not None


def test_augmentation_is_genuine_only_and_seeded() -> None:
    work = render_work(_faces(1)[0], 16)
    a = augment(work, 16, np.random.default_rng(3))
    b = augment(work, 16, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (16, 16, 3) and a.dtype == np.uint8
    x = to_tensor_layout(a[None])
    assert x.shape == (1, 3, 16, 16) and x.dtype == np.float32


def test_model_is_registered_with_its_contract() -> None:
    spec = get("face_liveness")
    assert spec.task == "liveness" and spec.seed == "004" and spec.metric == "acer"
    assert not spec.higher_is_better
    assert [t.name for t in spec.inputs] == ["image"] and [t.name for t in spec.outputs] == ["delta"]
    assert spec.inputs[0].shape[1:] == (3, face_liveness.input_size(), face_liveness.input_size())
    assert "delta" in spec.thresholds and "crop_margin" in spec.thresholds


def test_heavy_augmentation_is_seeded_and_varies_the_capture() -> None:
    work = render_work(_faces(1)[0], 16)
    a = augment_heavy(work, 16, np.random.default_rng(5))
    np.testing.assert_array_equal(a, augment_heavy(work, 16, np.random.default_rng(5)))
    assert a.shape == (16, 16, 3) and a.dtype == np.uint8
    views = np.stack([augment_heavy(work, 16, np.random.default_rng(s)) for s in range(8)])
    assert float(views.astype(np.float32).std(axis=0).mean()) > 2.0  # captures differ


def test_batches_repeat_faces_when_there_are_fewer_than_the_batch() -> None:
    works = [render_work(f, 16) for f in _faces(3)]
    image, idx = next(batches(works, 16, 8, np.random.default_rng(0), augment_heavy))
    assert image.shape == (8, 3, 16, 16)
    assert sorted(set(idx.tolist())) == [0, 1, 2]


def test_hd_training_faces_skip_the_small_crops_and_keep_the_split() -> None:
    train, split = training_faces("hd", seed=4)
    assert train and all(min(f.shape[:2]) >= HD_MIN_SIDE for f in train)
    assert all(any(f is g for g in split.train) for f in train)  # only train-split faces
    assert len(train) < len(split.train)


def test_recalibrate_switches_the_delta_form_and_recalibrates_on_genuine_validation() -> None:
    from biogate.exporters.nets.liveness import LivenessDelta
    from biogate.exporters.pad.metrics import bpcer
    from biogate.exporters.pad.protocol import evaluation_set
    from biogate.exporters.training.train_liveness import delta_scores, recalibrate

    torch.manual_seed(0)
    cfg = LivenessConfig.tiny()
    gen = LivenessGenerator(cfg)
    ckpt = {
        "config": cfg.to_json(),
        "generator": gen.state_dict(),
        "threshold": 0.1,
        "target_bpcer": 0.1,
        "train": {"data": "hd", "seed": 4},
    }
    out = recalibrate(ckpt, "relative", log=lambda _: None)
    assert out["config"]["delta_norm"] == "relative" and out["train"]["recalibrated_from"] == "none"
    assert out["generator"] is ckpt["generator"]  # weights untouched
    _, split = training_faces("hd", seed=4)
    val = evaluation_set(split.val, 64, seed=104, attacks=[])
    rel = LivenessDelta(LivenessGenerator(LivenessConfig.from_json(out["config"])))
    rel.generator.load_state_dict(gen.state_dict())
    assert bpcer(delta_scores(rel, val.bona_fide), out["threshold"]) <= 0.1
