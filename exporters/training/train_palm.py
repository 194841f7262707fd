"""The seed 001 palm models' data, metrics and training pieces (trained by ``biogate train``).

    nice -n 10 biogate train palm_sr --data palm-sim --out runs/palm_sr
    nice -n 10 biogate train palm_liveness --data palm-sim --out runs/palm_liveness
    nice -n 10 biogate train palm_liveness_raw --data palm-sim --out runs/palm_liveness_raw

(:mod:`biogate.exporters.training.tasks.palm`; ``--data palm-dicom:DIR`` for a detector's export.)
Data: :mod:`biogate.sim.xray` splits, each a fixed seed (new subjects per split),
cached as ``.npz`` under ``--cache`` (default ``~/.cache/biogate/palm``).  The shipped liveness
model never sees ``resin_bones`` (the fake type the benchmark treats as "first seen in the field").
"""

from __future__ import annotations

import math
import os
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
def sr_patch(
    lr: np.ndarray, hr: np.ndarray, scale: int, patch: int, rng: np.random.Generator, tries: int = 4
) -> dict[str, np.ndarray]:
    """One aligned ``(LR (1, p, p), HR (1, p·s, p·s))`` training patch of one image pair.

    Up to ``tries`` positions are drawn and the first that shows some of the hand is kept:
    open-beam-only patches teach the net nothing and would waste most of a small budget.
    """
    h, w = lr.shape[-2:]
    for _ in range(tries):
        y, x = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
        if float(lr[y : y + patch, x : x + patch].mean()) > 0.03:
            break
    return {
        "lr": np.ascontiguousarray(lr[None, y : y + patch, x : x + patch], np.float32),
        "hr": np.ascontiguousarray(
            hr[None, y * scale : (y + patch) * scale, x * scale : (x + patch) * scale], np.float32
        ),
    }


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
