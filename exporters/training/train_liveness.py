"""Train the seed-004 liveness network on genuine faces only (spec §3).

    nice -n 10 python -m biogate.exporters.training.train_liveness --out exporters/weights/liveness_edge.pt
    nice -n 10 python -m biogate.exporters.training.train_liveness --data /data/faces --config paper \
        --epochs 100 --out runs/liveness_paper.pt        # a real data set laid out as an image folder

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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from biogate.exporters.nets.liveness import (
    DELTA_EPS,
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
from biogate.exporters.pad.metrics import calibrate_threshold
from biogate.exporters.pad.protocol import (
    HD_MIN_SIDE,
    PORTRAIT_VAL_CAPTURES,
    Split,
    evaluation_set,
    is_identity_source,
    load_genuine_faces,
    render_work,
    split_faces,
    split_portraits,
    to_tensor_layout,
)
from biogate.exporters.training.liveness_augment import AUGMENTATIONS, batches

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
    data: str = "builtin"  # "builtin", "hd" (its full-resolution faces only) or a folder
    augment: str = "mild"
    delta_norm: str = "none"
    config: str = "tiny"
    epochs: int = 100
    batch: int = 16
    lr: float = 1e-4
    d_lr_scale: float = 1.0  # D's lr = lr × this (< 1 slows D so it cannot win the game early)
    identity: str = "dlib"
    identity_steps: int = 300  # exemplar stand-in only
    target_bpcer: float = 0.05
    seed: int = 4
    max_minutes: float = 0.0  # 0: no wall-clock cap
    identity_batch: int = 8  # images per batch that go through f (its cost dominates a step)
    latent_norm: str = "none"  # "relative": L_lat scaled by the target latents' magnitude
    run_seed: int | None = None  # weight init and augmentation stream; None: ``seed``
    fold: int = 0  # data="portraits": which identity fold is held out for testing
    folds: int = 5


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


def train(tc: TrainConfig, log=print) -> dict:
    """Run the whole recipe; returns the checkpoint dict (generator, identity net, threshold, record)."""
    run_seed = tc.seed if tc.run_seed is None else tc.run_seed  # init and augmentation, not the split
    torch.manual_seed(run_seed)
    cfg = build_config(tc.config, tc.delta_norm)
    train_faces, split = training_faces(tc.data, tc.seed, tc.fold, tc.folds)
    works = [render_work(f, cfg.input_size) for f in train_faces]
    n_split = (
        f"train {len(train_faces)} used of {len(split.train)}, val {len(split.val)}, test {len(split.test)}"
    )
    log(f"genuine faces ({tc.data}): {n_split}")

    t0 = time.monotonic()
    identity = make_identity(tc.identity, works, cfg.input_size, tc.identity_steps, tc.seed)
    log(f"identity network f: {tc.identity} ({time.monotonic() - t0:.0f} s)")

    gen, disc = LivenessGenerator(cfg), Discriminator(cfg)
    opt_g = torch.optim.Adam(gen.parameters(), lr=tc.lr, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=tc.lr * tc.d_lr_scale, betas=(0.9, 0.999))
    batch = tc.batch if tc.data == "hd" or is_identity_source(tc.data) else min(tc.batch, len(works))
    per_epoch = max(1, len(works) // batch)
    total = tc.epochs * per_epoch
    sched_g = torch.optim.lr_scheduler.CosineAnnealingLR(opt_g, T_max=total, eta_min=0.0)
    sched_d = torch.optim.lr_scheduler.CosineAnnealingLR(opt_d, T_max=total, eta_min=0.0)
    weights = LossWeights(identity_batch=tc.identity_batch, latent_norm=tc.latent_norm)
    stream = batches(
        works, cfg.input_size, batch, np.random.default_rng(run_seed + 1), AUGMENTATIONS[tc.augment]
    )
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
            delta = background_delta(out.latents, out.re_latents, cfg.delta_norm)
            rec["delta_train"] = float(delta.mean().detach())
            history.append(rec)
            if rec["epoch"] % 5 == 0 or step == total:
                log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
        if tc.max_minutes and time.monotonic() - t_train > 60 * tc.max_minutes:
            log(f"stopping at step {step}/{total}: --max-minutes {tc.max_minutes} reached")
            break

    model = LivenessDelta(gen).eval()
    val = evaluation_set(
        split.val, cfg.input_size, seed=tc.seed + 100, captures=_val_captures(tc.data), attacks=[]
    )
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
            "n_train": len(train_faces),
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


def _save(ckpt: dict, history: list, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    record = {k: ckpt[k] for k in ("config", "threshold", "target_bpcer")}
    record.update(train=ckpt["train"], history=history)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--data",
        default="builtin",
        help="'builtin', 'hd' (builtin split, full-resolution train faces only), 'portraits' (identity\n"
        "folds of every full-resolution face; see --fold), a folder of face crops (split by image)\n"
        "or 'folds:<folder>' (one sub-folder per person, split by identity like portraits)",
    )
    p.add_argument("--fold", type=int, default=0, help="identity sources: the test identity fold")
    p.add_argument("--folds", type=int, default=5, help="identity sources: number of identity folds")
    p.add_argument("--augment", default="mild", choices=sorted(AUGMENTATIONS), help="genuine augmentation")
    p.add_argument(
        "--delta-norm", default="none", choices=["none", "relative"], help="Δ form (see LivenessConfig)"
    )
    p.add_argument("--config", default="tiny", choices=["tiny", "edge", "paper"])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--d-lr-scale", type=float, default=1.0, help="discriminator lr = lr × this")
    p.add_argument(
        "--identity", default="dlib", choices=["dlib", "exemplar"], help="frozen identity network f"
    )
    p.add_argument("--identity-steps", type=int, default=300, help="training steps of the exemplar stand-in")
    p.add_argument(
        "--latent-norm", default="none", choices=["none", "relative"], help="L_lat form (see latent_loss)"
    )
    p.add_argument("--identity-batch", type=int, default=8, help="images per batch that go through f")
    p.add_argument("--target-bpcer", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=4, help="the data split (and, by default, everything else)")
    p.add_argument("--run-seed", type=int, default=None, help="weight init and augmentation only")
    p.add_argument("--max-minutes", type=float, default=0.0)
    p.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy shared machine)"
    )
    p.add_argument("--out", required=True, help="checkpoint path (.pt)")
    p.add_argument(
        "--recalibrate",
        metavar="CKPT",
        default=None,
        help="no training: copy CKPT with --delta-norm as its Δ form and a recalibrated threshold",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    if args.recalibrate:
        src = Path(args.recalibrate)
        ckpt = torch.load(src, map_location="cpu", weights_only=True)
        history = json.loads(src.with_suffix(".json").read_text()).get("history", [])
        _save(recalibrate(ckpt, args.delta_norm), history, Path(args.out))
        return 0
    tc = TrainConfig(
        data=args.data,
        augment=args.augment,
        delta_norm=args.delta_norm,
        config=args.config,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        d_lr_scale=args.d_lr_scale,
        identity=args.identity,
        identity_steps=args.identity_steps,
        target_bpcer=args.target_bpcer,
        identity_batch=args.identity_batch,
        latent_norm=args.latent_norm,
        run_seed=args.run_seed,
        seed=args.seed,
        max_minutes=args.max_minutes,
        fold=args.fold,
        folds=args.folds,
    )
    ckpt = train(tc)
    history = ckpt.pop("history")
    _save(ckpt, history, Path(args.out))
    return 0 if math.isfinite(ckpt["threshold"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
