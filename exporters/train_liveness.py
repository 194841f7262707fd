"""Train the seed-004 liveness network on genuine faces only (spec §3).

    nice -n 10 python -m biogate.exporters.train_liveness --out exporters/weights/liveness_edge.pt
    nice -n 10 python -m biogate.exporters.train_liveness --data /data/faces --config paper --epochs 100 \
        --out runs/liveness_paper.pt        # a real data set laid out as an image folder

Four losses (spec §3.2): pixel L1 between ``I`` and ``I_real``; adversarial (D: real ``I`` → 1,
``I_real`` → 0; G: non-saturating); identity ``‖f(I) − f(I_c)‖₂ / M`` with a frozen ``f``; latent
consistency L1 between the first- and second-encoder latents. G and D alternate one step each,
Adam(β = 0.9, 0.999), lr 1e-4 with cosine annealing to 0 over the whole run (per iteration).
No attack image is ever used here; the Δ threshold is calibrated on genuine validation faces.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from biogate.exporters.nets.liveness import (
    Discriminator,
    DlibIdentity,
    ExemplarFaceNet,
    GeneratorOutput,
    Latents,
    LivenessConfig,
    LivenessDelta,
    LivenessGenerator,
    background_delta,
    freeze,
)
from biogate.exporters.pad.attacks import camera_capture
from biogate.exporters.pad.metrics import calibrate_threshold
from biogate.exporters.pad.protocol import (
    evaluation_set,
    load_genuine_faces,
    render_work,
    split_faces,
    to_tensor_layout,
)

# ---------------------------------------------------------------- the four losses (spec §3.2)


def pixel_loss(image: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """L_pix = ‖I − I_real‖₁ / (H·W), averaged over the batch (the L1 sums over the 3 channels)."""
    h, w = image.shape[-2:]
    return (image - reconstruction).abs().flatten(1).sum(dim=1).mean() / (h * w)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """−[log D(I) + log(1 − D(I_real))] with D = softmax class 1: D maximises L_adv."""
    ones = torch.ones(real_logits.shape[0], dtype=torch.long)
    zeros = torch.zeros(fake_logits.shape[0], dtype=torch.long)
    return F.cross_entropy(real_logits, ones) + F.cross_entropy(fake_logits, zeros)


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G side of L_adv: −log D(I_real)."""
    return F.cross_entropy(fake_logits, torch.ones(fake_logits.shape[0], dtype=torch.long))


def identity_loss(feat_input: torch.Tensor, feat_clear: torch.Tensor) -> torch.Tensor:
    """L_id = ‖f(I) − f(I_c)‖₂ / M (plain L2 norm, as worded), averaged over the batch."""
    return (feat_input - feat_clear).norm(dim=1).mean() / feat_input.shape[1]


def latent_loss(latents: Latents, re_latents: Latents, stop_gradient: bool = True) -> torch.Tensor:
    """L_lat = ‖z_f − z'_f‖₁ / K_face + ‖z_b − z'_b‖₁ / K_BG (means over elements, batch-averaged).

    With ``stop_gradient`` the first encoder's latents are targets only (spec §6 row 12): otherwise
    both encoders can shrink their latents towards zero together, which zeroes Δ for every input.
    """
    zf, zb = latents
    if stop_gradient:
        zf, zb = zf.detach(), zb.detach()
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
        "latent": latent_loss(out.latents, out.re_latents),
    }
    total = sum(getattr(weights, name) * v for name, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}


# ---------------------------------------------------------------- genuine-only data with augmentation


def augment(work: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """One genuine training presentation: small pose/scale/shift, flip, mild exposure change, capture.

    Deliberately nothing that resembles an attack (no colour casts, halftone, blur sweeps, glare):
    the model must learn what genuine captures look like.
    """
    side = work.shape[0]
    angle = rng.uniform(-8, 8)
    scale = rng.uniform(0.92, 1.08)
    m = cv2.getRotationMatrix2D((side / 2, side / 2), angle, scale)
    m[:, 2] += rng.uniform(-0.04, 0.04, size=2) * side
    img = cv2.warpAffine(work, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    gain, offset = rng.uniform(0.92, 1.08), rng.uniform(-8, 8)
    img = np.clip(img.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    return camera_capture(img, size, rng)


def batches(works: Sequence[np.ndarray], size: int, batch: int, rng: np.random.Generator):
    """Endless stream of (images N×3×S×S in [-1, 1], face indices) drawn without replacement per epoch."""
    while True:
        order = rng.permutation(len(works))
        for start in range(0, len(order) - batch + 1, batch):
            idx = order[start : start + batch]
            imgs = np.stack([augment(works[i], size, rng) for i in idx])
            yield torch.from_numpy(to_tensor_layout(imgs)), torch.from_numpy(idx.astype(np.int64))


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
    gen: LivenessGenerator,
    disc: Discriminator,
    identity: torch.nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    image: torch.Tensor,
    weights: LossWeights,
) -> tuple[GeneratorOutput, float, float, dict[str, float]]:
    """One alternating step: D maximises L_adv (real ``I`` → 1, ``I_real`` → 0), then G minimises L."""
    gen.train()
    out = gen(image)
    d_loss = discriminator_loss(disc(image), disc(out.reconstruction.detach()))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss, parts = generator_loss(image, out, disc(out.reconstruction), identity, weights)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
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


@dataclass
class TrainConfig:
    data: str = "builtin"
    config: str = "tiny"
    epochs: int = 100
    batch: int = 16
    lr: float = 1e-4
    identity: str = "dlib"
    identity_steps: int = 300  # exemplar stand-in only
    target_bpcer: float = 0.05
    seed: int = 4
    max_minutes: float = 0.0  # 0: no wall-clock cap


def build_config(name: str) -> LivenessConfig:
    if name == "edge":
        return LivenessConfig.edge()
    if name == "paper":
        return LivenessConfig.paper()
    if name == "tiny":
        return LivenessConfig.tiny()
    raise ValueError(f"unknown --config {name!r}; choose tiny, edge or paper")


@torch.no_grad()
def delta_scores(model: LivenessDelta, images: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Δ for RGB ``uint8`` presentations (N×S×S×3)."""
    model.eval()
    out = [
        model(torch.from_numpy(to_tensor_layout(images[i : i + chunk]))) for i in range(0, len(images), chunk)
    ]
    return torch.cat(out).numpy().astype(np.float64)


def train(tc: TrainConfig, log=print) -> dict:
    """Run the whole recipe; returns the checkpoint dict (generator, identity net, threshold, record)."""
    torch.manual_seed(tc.seed)
    cfg = build_config(tc.config)
    faces = load_genuine_faces(tc.data)
    split = split_faces(faces, seed=tc.seed)
    works = [render_work(f, cfg.input_size) for f in split.train]
    n_split = f"train {len(split.train)}, val {len(split.val)}, test {len(split.test)}"
    log(f"genuine faces: {len(faces)} ({n_split})")

    t0 = time.monotonic()
    identity = make_identity(tc.identity, works, cfg.input_size, tc.identity_steps, tc.seed)
    log(f"identity network f: {tc.identity} ({time.monotonic() - t0:.0f} s)")

    gen, disc = LivenessGenerator(cfg), Discriminator(cfg)
    opt_g = torch.optim.Adam(gen.parameters(), lr=tc.lr, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=tc.lr, betas=(0.9, 0.999))
    batch = min(tc.batch, len(works))
    per_epoch = max(1, len(works) // batch)
    total = tc.epochs * per_epoch
    sched_g = torch.optim.lr_scheduler.CosineAnnealingLR(opt_g, T_max=total, eta_min=0.0)
    sched_d = torch.optim.lr_scheduler.CosineAnnealingLR(opt_d, T_max=total, eta_min=0.0)
    weights = LossWeights()
    stream = batches(works, cfg.input_size, batch, np.random.default_rng(tc.seed + 1))
    history: list[dict] = []
    t_train = time.monotonic()
    step = 0
    for step in range(1, total + 1):
        image, _ = next(stream)
        out, d_loss, g_loss, parts = train_step(gen, disc, identity, opt_g, opt_d, image, weights)
        sched_g.step()
        sched_d.step()
        if step % per_epoch == 0:
            rec = {"epoch": step // per_epoch, "g": g_loss, "d": d_loss, **parts}
            rec["delta_train"] = float(background_delta(out.latents, out.re_latents).mean().detach())
            history.append(rec)
            if rec["epoch"] % 5 == 0 or step == total:
                log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
        if tc.max_minutes and time.monotonic() - t_train > 60 * tc.max_minutes:
            log(f"stopping at step {step}/{total}: --max-minutes {tc.max_minutes} reached")
            break

    model = LivenessDelta(gen).eval()
    val = evaluation_set(split.val, cfg.input_size, seed=tc.seed + 100, attacks=[])
    val_scores = delta_scores(model, val.bona_fide)
    threshold = calibrate_threshold(val_scores, tc.target_bpcer)
    n_val = len(val_scores)
    log(f"threshold Δ = {threshold:.6g} at validation BPCER ≤ {tc.target_bpcer:.0%} ({n_val} captures)")
    return {
        "config": cfg.to_json(),
        "generator": {k: v.detach().clone() for k, v in gen.state_dict().items()},
        "identity": tc.identity,
        "threshold": threshold,
        "target_bpcer": tc.target_bpcer,
        "train": {
            **asdict(tc),
            "steps": step,
            "minutes": (time.monotonic() - t0) / 60,
            "n_train": len(split.train),
            "n_val": len(split.val),
            "n_test": len(split.test),
            "last": history[-1] if history else {},
        },
        "history": history,
    }


def load_checkpoint(path: str | Path) -> tuple[LivenessGenerator, dict]:
    """The trained generator (eval mode) and the checkpoint's metadata (threshold, config, record)."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    cfg = LivenessConfig.from_json(ckpt["config"])
    gen = LivenessGenerator(cfg)
    gen.load_state_dict({k: v.float() for k, v in ckpt["generator"].items()})
    return gen.eval(), ckpt


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--data", default="builtin", help="'builtin' or a folder of genuine face crops")
    p.add_argument("--config", default="tiny", choices=["tiny", "edge", "paper"])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument(
        "--identity", default="dlib", choices=["dlib", "exemplar"], help="frozen identity network f"
    )
    p.add_argument("--identity-steps", type=int, default=300, help="training steps of the exemplar stand-in")
    p.add_argument("--target-bpcer", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--max-minutes", type=float, default=0.0)
    p.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy shared machine)"
    )
    p.add_argument("--out", required=True, help="checkpoint path (.pt)")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    tc = TrainConfig(
        data=args.data,
        config=args.config,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        identity=args.identity,
        identity_steps=args.identity_steps,
        target_bpcer=args.target_bpcer,
        seed=args.seed,
        max_minutes=args.max_minutes,
    )
    ckpt = train(tc)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    history = ckpt.pop("history")
    torch.save(ckpt, out)
    record = {k: ckpt[k] for k in ("config", "threshold", "target_bpcer")}
    record.update(train=ckpt["train"], history=history)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0 if math.isfinite(ckpt["threshold"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
