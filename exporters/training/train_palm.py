"""Train the seed 001 palm models on simulated radiographs.

    nice -n 10 python -m biogate.exporters.training.train_palm all    # SR, then liveness on SR and on raw
    python -m biogate.exporters.training.train_palm sr --iters 600
    python -m biogate.exporters.training.train_palm liveness --input sr --exclude resin_bones

Data: :mod:`biogate.sim.xray` splits, each a fixed seed (new subjects per split),
cached as ``.npz`` under ``--cache`` (default ``~/.cache/biogate/palm``).  The shipped liveness
model never sees ``resin_bones`` (the fake type the benchmark treats as "first seen in the field").
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from biogate.errors import ConfigError
from biogate.exporters.nets.palm import (
    SR_VARIANTS,
    PalmLivenessNet,
    zero_one_loss,
    zero_one_surrogate,
)
from biogate.models.palm import log_attenuation
from biogate.sim import xray as xray_data

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
HELD_OUT_KIND = "resin_bones"
#: split → (seed, samples per kind).  Seeds differ, so every split holds different subjects.
SPLITS: dict[str, tuple[int, dict[str, int]]] = {
    "train": (101, {"live": 800, **{k: 200 for k in xray_data.FAKE_KINDS}}),
    "val": (202, {"live": 200, **{k: 40 for k in xray_data.FAKE_KINDS}}),
    "test": (303, {"live": 300, **{k: 60 for k in xray_data.FAKE_KINDS}}),
    "field": (404, {"live": 200, **{k: 40 for k in xray_data.FAKE_KINDS}}),
    "field_test": (505, {"live": 200, **{k: 60 for k in xray_data.FAKE_KINDS}}),
}


@dataclass
class PalmSet:
    """One split: raw device counts, normalised LR/HR images, labels (1 live) and kinds."""

    raw: np.ndarray  # uint16 (N, h, w)
    lr: np.ndarray  # float32 (N, h, w) normalised attenuation
    hr: np.ndarray  # float32 (N, h·s, w·s)
    labels: np.ndarray  # int64 (N,)
    kinds: np.ndarray  # str (N,)

    def select(self, mask: np.ndarray) -> PalmSet:
        return PalmSet(self.raw[mask], self.lr[mask], self.hr[mask], self.labels[mask], self.kinds[mask])

    def without(self, *kinds: str) -> PalmSet:
        return self.select(~np.isin(self.kinds, kinds))

    def __len__(self) -> int:
        return len(self.labels)


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "biogate" / "palm"


def make_set(counts: dict[str, int], seed: int, cfg: xray_data.ScanConfig | None = None) -> PalmSet:
    """Render ``counts[kind]`` samples of each kind with ``seed`` (no cache)."""
    cfg = cfg or xray_data.ScanConfig()
    raw, hr, labels, kinds = [], [], [], []
    for kind, n in counts.items():
        for i in range(n):
            scan = xray_data.simulate(kind, seed, i, cfg)
            raw.append(scan.lr)
            hr.append(scan.hr)
            labels.append(scan.label)
            kinds.append(kind)
    raw_a = np.stack(raw)
    return PalmSet(
        raw_a,
        np.stack([log_attenuation(r) for r in raw_a]),
        np.stack([log_attenuation(h) for h in hr]),
        np.asarray(labels, np.int64),
        np.asarray(kinds),
    )


def load_split(name: str, cache: Path | None = None, scale_down: int = 1) -> PalmSet:
    """A named split from :data:`SPLITS`, rendered once and cached; ``scale_down`` shrinks counts (tests)."""
    if name not in SPLITS:
        raise ConfigError(f"unknown palm split {name!r}; valid: {', '.join(SPLITS)}")
    seed, counts = SPLITS[name]
    counts = {k: max(1, n // scale_down) for k, n in counts.items()}
    cache = Path(cache) if cache else default_cache()
    path = cache / f"{name}-{seed}-{sum(counts.values())}-v2.npz"
    if path.exists():
        z = np.load(path)
        return PalmSet(z["raw"], z["lr"], z["hr"], z["labels"], z["kinds"])
    data = make_set(counts, seed)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, raw=data.raw, lr=data.lr, hr=data.hr, labels=data.labels, kinds=data.kinds)
    tmp.replace(path)
    return data


# ---------------------------------------------------------------- metrics
def psnr(pred: np.ndarray, ref: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(pred, np.float64) - ref) ** 2))
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def ssim(pred: np.ndarray, ref: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(pred, ref, data_range=1.0))


def pad_metrics(
    scores: np.ndarray,
    labels: np.ndarray,
    kinds: np.ndarray,
    threshold: float = 0.5,
    attack_kinds: tuple[str, ...] | None = None,
) -> dict[str, float]:
    """ISO/IEC 30107-3 style: APCER per fake kind, BPCER, and ACER = (worst APCER + BPCER) / 2.

    ``attack_kinds`` limits the worst-case APCER to those kinds (e.g. the ones seen in training).
    """
    accept = scores > threshold
    out: dict[str, float] = {}
    live = labels == 1
    out["bpcer"] = float(1.0 - accept[live].mean()) if live.any() else 0.0
    apcers = {}
    for kind in sorted(set(kinds[~live].tolist())):
        apcers[kind] = float(accept[kinds == kind].mean())
        out[f"apcer_{kind}"] = apcers[kind]
    chosen = [apcers[k] for k in (attack_kinds or apcers) if k in apcers]
    out["apcer_max"] = max(chosen) if chosen else 0.0
    out["acer"] = 0.5 * (out["apcer_max"] + out["bpcer"])
    out["error_rate"] = float((accept != live).mean())
    return out


# ---------------------------------------------------------------- SR
def train_sr(
    data: PalmSet,
    iters: int = 600,
    batch: int = 16,
    patch: int = 32,
    lr: float = 1e-3,
    variant: str = "srcnn",
    stop_loss: float = 0.0,
    seed: int = 0,
    log_every: int = 100,
    init: torch.nn.Module | None = None,
    **net_options: Any,
) -> tuple[torch.nn.Module, list[float]]:
    """L2 training on LR/HR pairs (random aligned patches); stops at ``iters`` or mean loss ≤ stop_loss."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    scale = data.hr.shape[-1] // data.lr.shape[-1]
    net = init.train() if init is not None else SR_VARIANTS[variant](scale=scale, **net_options)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters)
    lr_t, hr_t = torch.from_numpy(data.lr), torch.from_numpy(data.hr)
    n, size = len(data), data.lr.shape[-1]
    history: list[float] = []
    for it in range(iters):
        # Draw 4x candidates and keep patches that show some of the hand: open-beam-only patches
        # teach the net nothing and would waste most of a small CPU budget.
        idx = rng.integers(0, n, 4 * batch)
        ys, xs = rng.integers(0, size - patch + 1, 4 * batch), rng.integers(0, size - patch + 1, 4 * batch)
        busy = np.array(
            [float(lr_t[i, y : y + patch, c : c + patch].mean()) > 0.03 for i, y, c in zip(idx, ys, xs)]
        )
        order = np.argsort(~busy, kind="stable")[:batch]
        idx, ys, xs = idx[order], ys[order], xs[order]
        x = torch.stack([lr_t[i, y : y + patch, c : c + patch] for i, y, c in zip(idx, ys, xs)])[:, None]
        t = torch.stack(
            [
                hr_t[i, y * scale : (y + patch) * scale, c * scale : (c + patch) * scale]
                for i, y, c in zip(idx, ys, xs)
            ]
        )[:, None]
        loss = F.mse_loss(net(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
        if log_every and (it + 1) % log_every == 0:
            print(f"sr iter {it + 1}/{iters} mse {np.mean(history[-log_every:]):.6f}", flush=True)
        if stop_loss and len(history) >= 50 and np.mean(history[-50:]) <= stop_loss:
            break
    return net.eval(), history


@torch.no_grad()
def sr_apply(net: torch.nn.Module, lr_images: np.ndarray, batch: int = 32) -> np.ndarray:
    """Super-resolve a stack ``(N, h, w)`` → ``(N, h·s, w·s)``, clipped to [0, 1]."""
    out = [
        net(torch.from_numpy(lr_images[i : i + batch])[:, None]).clamp(0, 1)[:, 0].numpy()
        for i in range(0, len(lr_images), batch)
    ]
    return np.concatenate(out).astype(np.float32)


def bicubic(lr_images: np.ndarray, scale: int) -> np.ndarray:
    with torch.no_grad():
        up = F.interpolate(
            torch.from_numpy(lr_images)[:, None], scale_factor=scale, mode="bicubic", align_corners=False
        )
    return up.clamp(0, 1)[:, 0].numpy()


def sr_metrics(sr: np.ndarray, bic: np.ndarray, hr: np.ndarray) -> dict[str, float]:
    p_sr = float(np.mean([psnr(a, b) for a, b in zip(sr, hr)]))
    p_bi = float(np.mean([psnr(a, b) for a, b in zip(bic, hr)]))
    s_sr = float(np.mean([ssim(a, b) for a, b in zip(sr, hr)]))
    s_bi = float(np.mean([ssim(a, b) for a, b in zip(bic, hr)]))
    return {
        "psnr_sr": p_sr,
        "psnr_bicubic": p_bi,
        "psnr_gain_db": p_sr - p_bi,
        "ssim_sr": s_sr,
        "ssim_bicubic": s_bi,
        "ssim_gain": s_sr - s_bi,
    }


# ---------------------------------------------------------------- liveness
def train_liveness(
    images: np.ndarray,
    labels: np.ndarray,
    iters: int = 400,
    batch: int = 32,
    lr: float = 2e-3,
    init: torch.nn.Module | None = None,
    surrogate: str = "logistic",
    seed: int = 0,
    class_cost: tuple[float, float] = (1.0, 1.0),
    log_every: int = 100,
    sample_weights: np.ndarray | None = None,
) -> torch.nn.Module:
    """Train (or fine-tune ``init``) with the 0/1-loss surrogate; random flips as augmentation.

    ``sample_weights`` biases the mini-batch sampling (the feedback loop up-weights hard examples).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = init if init is not None else PalmLivenessNet()
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters)
    x_all, y_all = torch.from_numpy(np.ascontiguousarray(images, np.float32)), torch.from_numpy(labels)
    p = None if sample_weights is None else sample_weights / sample_weights.sum()
    hist_s, hist_01 = [], []
    for it in range(iters):
        idx = rng.choice(len(labels), batch, p=p)
        x = x_all[idx][:, None]
        if rng.random() < 0.5:
            x = x.flip(3)
        if rng.random() < 0.5:
            x = x.flip(2)
        logits = net(x)
        loss = zero_one_surrogate(logits, y_all[idx], kind=surrogate, class_cost=class_cost)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist_s.append(float(loss.detach()))
        hist_01.append(float(zero_one_loss(logits.detach(), y_all[idx])))
        if log_every and (it + 1) % log_every == 0:
            print(
                f"liveness iter {it + 1}/{iters} surrogate {np.mean(hist_s[-log_every:]):.4f} "
                f"0/1 {np.mean(hist_01[-log_every:]):.4f}",
                flush=True,
            )
    return net.eval()


@torch.no_grad()
def liveness_scores(net: torch.nn.Module, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """P(live) per image."""
    net.eval()
    out = [
        torch.softmax(net(torch.from_numpy(images[i : i + batch])[:, None]), 1)[:, 1].numpy()
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(out).astype(np.float64)


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(module: torch.nn.Module, path: Path, **meta: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    torch.save({"state_dict": state, "meta": meta}, path)
    return path


def load_sr(path: Path | None = None) -> torch.nn.Module:
    ck = torch.load(path or WEIGHTS / "palm_sr.pt", map_location="cpu", weights_only=True)
    opts = ck["meta"].get("net", {})
    net = SR_VARIANTS[opts.pop("variant", "srcnn")](**opts)
    net.load_state_dict(ck["state_dict"])
    return net.eval()


def load_liveness(path: Path | None = None) -> torch.nn.Module:
    ck = torch.load(path or WEIGHTS / "palm_liveness.pt", map_location="cpu", weights_only=True)
    net = PalmLivenessNet(**ck["meta"].get("net", {}))
    net.load_state_dict(ck["state_dict"])
    return net.eval()


def checkpoint_meta(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)["meta"]


# ---------------------------------------------------------------- commands
def _cmd_sr(args: argparse.Namespace) -> dict[str, Any]:
    train = load_split("train", args.cache).without(HELD_OUT_KIND)
    t0 = time.time()
    init = load_sr(args.init) if args.init else None
    history = checkpoint_meta(args.init).get("commands", []) if args.init else []  # earlier training steps
    net, _hist = train_sr(train, iters=args.iters, variant=args.variant, lr=args.lr or 1e-3, init=init)
    val = load_split("val", args.cache)
    m = sr_metrics(sr_apply(net, val.lr), bicubic(val.lr, net.scale), val.hr)
    m["train_s"] = round(time.time() - t0, 1)
    print(json.dumps(m, indent=1))
    save_checkpoint(
        net,
        args.out / "palm_sr.pt",
        net={"variant": args.variant, "scale": net.scale},
        metrics_val=m,
        command=" ".join(sys.argv),
        commands=[*history, " ".join(sys.argv)],
        data="xray_data split train (seed 101) minus resin_bones",
    )
    return m


def _cmd_liveness(args: argparse.Namespace) -> dict[str, Any]:
    train = load_split("train", args.cache).without(*args.exclude)
    val = load_split("val", args.cache)
    if args.input == "sr":
        sr = load_sr(args.out / "palm_sr.pt")
        x_train, x_val = sr_apply(sr, train.lr), sr_apply(sr, val.lr)
    else:
        x_train, x_val = train.lr, val.lr
    t0 = time.time()
    net = train_liveness(x_train, train.labels, iters=args.iters, surrogate=args.surrogate)
    seen = tuple(k for k in xray_data.FAKE_KINDS if k not in args.exclude)
    m = pad_metrics(liveness_scores(net, x_val), val.labels, val.kinds, 0.5, attack_kinds=seen)
    m["train_s"] = round(time.time() - t0, 1)
    print(json.dumps(m, indent=1))
    name = "palm_liveness.pt" if args.input == "sr" else "palm_liveness_raw.pt"
    save_checkpoint(
        net,
        args.out / name,
        net={},
        input=args.input,
        seen_kinds=list(seen),
        metrics_val=m,
        surrogate=args.surrogate,
        command=" ".join(sys.argv),
        data=f"xray_data split train (seed 101) minus {', '.join(args.exclude) or 'nothing'}",
    )
    return m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m biogate.exporters.training.train_palm",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=["sr", "liveness", "all"])
    parser.add_argument("--cache", type=Path, default=None, help="dataset cache folder")
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="where checkpoints go")
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--variant", choices=sorted(SR_VARIANTS), default="srcnn")
    parser.add_argument(
        "--input", choices=["sr", "raw"], default="sr", help="liveness trains on SR or raw images"
    )
    parser.add_argument(
        "--exclude", nargs="*", default=[HELD_OUT_KIND], help="fake kinds kept out of training"
    )
    parser.add_argument("--surrogate", choices=["logistic", "sigmoid"], default="logistic")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--lr", type=float, default=None, help="learning rate (default 1e-3 SR, 2e-3 liveness)"
    )
    parser.add_argument("--init", type=Path, default=None, help="SR: continue training this checkpoint")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(args.threads, 2)))
    if args.what in ("sr", "all"):
        a = argparse.Namespace(**vars(args))
        a.iters = args.iters or 600
        _cmd_sr(a)
    if args.what in ("liveness", "all"):
        for inp in ["sr", "raw"] if args.what == "all" else [args.input]:
            a = argparse.Namespace(**vars(args))
            a.iters, a.input = args.iters or 400, inp
            _cmd_liveness(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
