"""The seed-004 liveness recipe's pieces (spec §3): the four losses, the alternating G/D step, Δ.

Trained by ``biogate train face_liveness`` (:mod:`biogate.exporters.training.tasks.face_liveness`)::

    nice -n 10 biogate train face_liveness --data folders:/data/faces --out runs/liveness --epochs 100
    nice -n 5 biogate train face_liveness --data portraits --seed 4 --steps 2000 --batch 8 --lr 5e-4 \
        --set delta_norm=relative --set d_lr_scale=0.2 --set identity_batch=4 --out runs/liveness_r3

Four losses (spec §3.2): pixel L1 between ``I`` and ``I_real``; adversarial (D: real ``I`` → 1,
``I_real`` → 0; G: non-saturating); identity ``‖f(I) − f(I_c)‖₂ / M`` with a frozen ``f``; latent
consistency L1 between the first- and second-encoder latents. G and D alternate one step each,
Adam(β = 0.9, 0.999), lr 1e-4 with cosine annealing to 0 over the whole run (per iteration).
No attack image is ever used here; the Δ threshold is calibrated on genuine validation faces.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from biogate.exporters.nets.liveness import (
    DELTA_EPS,
    DlibIdentity,
    ExemplarFaceNet,
    GeneratorOutput,
    Latents,
    LivenessConfig,
    LivenessDelta,
    LivenessGenerator,
    freeze,
)
from biogate.exporters.pad.metrics import calibrate_threshold
from biogate.exporters.pad.protocol import (
    HD_MIN_SIDE,
    PORTRAIT_VAL_CAPTURES,
    Split,
    evaluation_set,
    is_identity_source,
    load_genuine_faces,
    split_faces,
    split_portraits,
    to_tensor_layout,
)
from biogate.exporters.training.liveness_augment import batches

# ---------------------------------------------------------------- the four losses (spec §3.2)


def pixel_loss(image: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """L_pix = ‖I − I_real‖₁ / (H·W), averaged over the batch (the L1 sums over the 3 channels)."""
    h, w = image.shape[-2:]
    return (image - reconstruction).abs().flatten(1).sum(dim=1).mean() / (h * w)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """−[log D(I) + log(1 − D(I_real))] with D = softmax class 1: D maximises L_adv."""
    ones = torch.ones(real_logits.shape[0], dtype=torch.long, device=real_logits.device)
    zeros = torch.zeros(fake_logits.shape[0], dtype=torch.long, device=fake_logits.device)
    return F.cross_entropy(real_logits, ones) + F.cross_entropy(fake_logits, zeros)


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G side of L_adv: −log D(I_real)."""
    ones = torch.ones(fake_logits.shape[0], dtype=torch.long, device=fake_logits.device)
    return F.cross_entropy(fake_logits, ones)


def identity_loss(feat_input: torch.Tensor, feat_clear: torch.Tensor) -> torch.Tensor:
    """L_id = ‖f(I) − f(I_c)‖₂ / M (plain L2 norm, as worded), averaged over the batch."""
    return (feat_input - feat_clear).norm(dim=1).mean() / feat_input.shape[1]


def latent_loss(
    latents: Latents, re_latents: Latents, stop_gradient: bool = True, norm: str = "none"
) -> torch.Tensor:
    """L_lat = ‖z_f − z'_f‖₁ / K_face + ‖z_b − z'_b‖₁ / K_BG (means over elements, batch-averaged).

    With ``stop_gradient`` the first encoder's latents are targets only (spec §6 row 12): otherwise
    both encoders can shrink their latents towards zero together, which zeroes Δ for every input.
    ``norm="relative"`` divides each image's term by the (detached) mean |z| of its target, the
    training counterpart of the relative Δ: E2 must match E1's latents in shape, whatever their scale.
    """
    zf, zb = latents
    if stop_gradient:
        zf, zb = zf.detach(), zb.detach()
    if norm == "relative":
        total = zf.new_zeros(())
        for z, z2 in ((zf, re_latents.face), (zb, re_latents.background)):
            scale = z.detach().abs().flatten(1).mean(dim=1) + DELTA_EPS
            total = total + ((z - z2).abs().flatten(1).mean(dim=1) / scale).mean()
        return total
    return (zf - re_latents.face).abs().mean() + (zb - re_latents.background).abs().mean()


@dataclass
class LossWeights:
    """λ of spec §3.2: pixel 50, adversarial 1, latent 1 as suggested; identity 100 (docs/liveness.md).

    ``L_id`` divides an embedding distance by M (128 for dlib), so the suggested λ_id = 1 would leave
    it ~1e-3 of the objective; 100 brings it to the order of the adversarial term.
    ``identity_batch`` caps how many images of a batch go through ``f`` (it is the costliest part).
    """

    pixel: float = 50.0
    adversarial: float = 1.0
    identity: float = 100.0
    latent: float = 1.0
    identity_batch: int = 8
    latent_norm: str = "none"


def generator_loss(
    image: torch.Tensor,
    out: GeneratorOutput,
    fake_logits: torch.Tensor,
    identity: torch.nn.Module,
    weights: LossWeights,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted G objective and its parts (floats, for logging)."""
    k = max(1, min(weights.identity_batch, image.shape[0]))
    with torch.no_grad():
        target_id = identity(image[:k])
    parts = {
        "pixel": pixel_loss(image, out.reconstruction),
        "adversarial": generator_adversarial_loss(fake_logits),
        "identity": identity_loss(target_id, identity(out.clear_face[:k])),
        "latent": latent_loss(out.latents, out.re_latents, norm=weights.latent_norm),
    }
    total = sum(getattr(weights, name) * v for name, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}


# ---------------------------------------------------------------- training


def train_identity(works: Sequence[np.ndarray], size: int, steps: int, seed: int) -> ExemplarFaceNet:
    """The stand-in ``f``: exemplar classification of the training faces (each face its own class)."""
    torch.manual_seed(seed)
    net = ExemplarFaceNet(width=8)
    head = torch.nn.Linear(net.embed_dim, len(works))
    opt = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=2e-3)
    stream = batches(works, size, min(32, len(works)), np.random.default_rng(seed))
    for _ in range(steps):
        x, y = next(stream)
        loss = F.cross_entropy(head(net(x)) * 10.0, y)  # cosine-softmax style logits
        opt.zero_grad()
        loss.backward()
        opt.step()
    return freeze(net)


def train_step(
    gen: torch.nn.Module,
    disc: torch.nn.Module,
    identity: torch.nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    image: torch.Tensor,
    weights: LossWeights,
    step: Any = None,
) -> tuple[GeneratorOutput, float, float, dict[str, float]]:
    """One alternating step: D maximises L_adv (real ``I`` → 1, ``I_real`` → 0), then G minimises L.

    ``gen``/``disc`` may be DDP-wrapped; ``step`` (the harness's :class:`~biogate.exporters.training.
    task.Step`) routes backward and optimiser steps through its mixed-precision scaler.
    """
    autocast = step.autocast if step is not None else contextlib.nullcontext
    backward = step.backward if step is not None else torch.Tensor.backward
    update = step.step if step is not None else (lambda opt: opt.step())
    gen.train()
    with autocast():
        out = gen(image)
        d_loss = discriminator_loss(disc(image).float(), disc(out.reconstruction.detach()).float())
    opt_d.zero_grad()
    backward(d_loss)
    update(opt_d)
    with autocast():
        g_loss, parts = generator_loss(image, out, disc(out.reconstruction).float(), identity, weights)
    opt_g.zero_grad()
    backward(g_loss)
    update(opt_g)
    return out, float(d_loss.detach()), float(g_loss.detach()), parts


def make_identity(
    kind: str, works: Sequence[np.ndarray], size: int, steps: int, seed: int
) -> torch.nn.Module:
    """The frozen ``f``: ``dlib`` (the project's face embedder) or the ``exemplar`` stand-in trained here."""
    if kind == "dlib":
        from biogate.exporters.nets.dlib_resnet import load_dlib_facenet

        return freeze(DlibIdentity(load_dlib_facenet()))
    if kind == "exemplar":
        return train_identity(works, size, steps, seed)
    raise ValueError(f"unknown identity network {kind!r}; choose dlib or exemplar")


def build_config(name: str, delta_norm: str = "none") -> LivenessConfig:
    makers = {"edge": LivenessConfig.edge, "paper": LivenessConfig.paper, "tiny": LivenessConfig.tiny}
    if name not in makers:
        raise ValueError(f"unknown --config {name!r}; choose tiny, edge or paper")
    return replace(makers[name](), delta_norm=delta_norm)


def training_faces(data: str, seed: int, fold: int = 0, folds: int = 5) -> tuple[list[np.ndarray], Split]:
    """The faces to train on and the split they come from.

    ``data="hd"`` uses the builtin faces' split (so validation and test are the standard
    protocol's) but trains only on its full-resolution train faces, not the 25×25 LFW crops.
    ``data="portraits"`` is fold ``fold`` of the identity-disjoint split of every full-resolution
    face (:func:`~biogate.exporters.pad.protocol.split_portraits`); ``data="folds:<folder>"`` the
    same over a folder with one sub-folder per person.
    """
    if is_identity_source(data):
        split = split_portraits(fold, folds, seed=seed, source=data)
        return split.train, split
    faces = load_genuine_faces("builtin" if data == "hd" else data)
    split = split_faces(faces, seed=seed)
    train = split.train
    if data == "hd":
        train = [f for f in train if min(f.shape[:2]) >= HD_MIN_SIDE]
    return train, split


def _val_captures(data: str) -> int:
    """Genuine captures per validation face: more for the few-face portraits split (as its protocol)."""
    return PORTRAIT_VAL_CAPTURES if is_identity_source(data) else 3


@torch.no_grad()
def delta_scores(model: LivenessDelta, images: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Δ for RGB ``uint8`` presentations (N×S×S×3)."""
    model.eval()
    out = [
        model(torch.from_numpy(to_tensor_layout(images[i : i + chunk]))) for i in range(0, len(images), chunk)
    ]
    return torch.cat(out).numpy().astype(np.float64)


def load_checkpoint(path: str | Path) -> tuple[LivenessGenerator, dict]:
    """The trained generator (eval mode) and the checkpoint's metadata (threshold, config, record)."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    cfg = LivenessConfig.from_json(ckpt["config"])
    gen = LivenessGenerator(cfg)
    gen.load_state_dict({k: v.float() for k, v in ckpt["generator"].items()})
    return gen.eval(), ckpt


def recalibrate(ckpt: dict, delta_norm: str, log=print) -> dict:
    """``ckpt`` with its Δ form set to ``delta_norm`` and the threshold recalibrated.

    Same recipe as :func:`train`: the genuine validation captures of the training run's split,
    the run's target BPCER. No attack is used; the generator weights are unchanged.
    """
    cfg = replace(LivenessConfig.from_json(ckpt["config"]), delta_norm=delta_norm)
    gen = LivenessGenerator(cfg)
    gen.load_state_dict({k: v.float() for k, v in ckpt["generator"].items()})
    rec = ckpt["train"]
    data, seed = rec.get("data", "builtin"), int(rec.get("seed", 4))
    _, split = training_faces(data, seed, int(rec.get("fold", 0)), int(rec.get("folds", 5)))
    val = evaluation_set(split.val, cfg.input_size, seed=seed + 100, captures=_val_captures(data), attacks=[])
    target = float(ckpt.get("target_bpcer", 0.05))
    threshold = calibrate_threshold(delta_scores(LivenessDelta(gen), val.bona_fide), target)
    log(f"Δ form {delta_norm!r}: threshold {threshold:.6g} at validation BPCER ≤ {target:.0%}")
    was = ckpt["config"].get("delta_norm", "none")
    train_rec = {**rec, "delta_norm": delta_norm, "recalibrated_from": was}
    return {**ckpt, "config": cfg.to_json(), "threshold": threshold, "train": train_rec}
