"""Training of the seed-000 super-resolution nets (spec §3.1) and their held-out evaluation.

* Data — paired LR/HR blocks (§6 #11): an HR block of ``(s·r) x (s·r)`` pixels cut from an offline
  HD photograph (:func:`biogate.exporters.training.ksvd.hd_images`, held-out faces blanked), its LR block the
  antialiased bicubic ``↓r`` (PIL/Matlab-style) of it; half the blocks are centred on training faces.
* Sample sets of 32 blocks (the spec's set size) per iteration; L1 on the main output plus every
  auxiliary head (multi-loss, aux weight decayed linearly to ``aux_final``).
* Stop criteria: ``max_iters``, a wall-clock ``minutes`` budget, or every running loss below
  ``loss_target``.
* Acceptance (§6 #14): output resolution ≥ ``r·input`` and, on the held-out faces, PSNR and SSIM
  (Y channel) at least ``min_psnr_gain`` / ``min_ssim_gain`` above bicubic.  A failed acceptance
  sends training back for another round (learning rate restarted at half) up to ``max_rounds``.

Held-out faces: the identities ``HELD_OUT_IDENTITIES`` (``face_data.identity_split(faces,
0.33, seed=0)`` of the 9 full-resolution faces), each as its 128x128 crop plus 4 augmented
captures.  Commands (see ``docs/sr.md``)::

    nice -n 10 .venv/bin/python -m biogate.exporters.training.train_sr --arch dual --config edge --minutes 15
    nice -n 10 .venv/bin/python -m biogate.exporters.training.train_sr --arch rdn --minutes 15
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from biogate.errors import ConfigError

HELD_OUT_IDENTITIES = ("eileen_collins", "t1_person3", "t1_person5")
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
VIEWS_PER_TEST_FACE = 4


# ------------------------------------------------------------------------------------ metrics
def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma in [16, 235] (Matlab ``rgb2ycbcr``) of ``(..., 3, H, W)`` RGB in [0, 1]."""
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b


def psnr_y(pred: np.ndarray, ref: np.ndarray, border: int) -> float:
    """PSNR (dB) on the Y channel of one ``(3, H, W)`` pair, ``border`` pixels shaved (SR convention)."""
    a, b = rgb_to_y(np.clip(pred, 0, 1)), rgb_to_y(ref)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10.0 * math.log10(255.0**2 / max(mse, 1e-10))


def ssim_y(pred: np.ndarray, ref: np.ndarray, border: int) -> float:
    """SSIM (Wang et al. 2004: Gaussian σ=1.5 window) on the Y channel, ``border`` shaved."""
    from skimage.metrics import structural_similarity

    a, b = rgb_to_y(np.clip(pred, 0, 1)), rgb_to_y(ref)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return float(
        structural_similarity(
            a, b, data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
    )


def sr_scores(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, float]:
    """Mean Y-channel PSNR and SSIM of ``(N, 3, H, W)`` outputs against their HR references."""
    return {
        "psnr": float(np.mean([psnr_y(a, b, scale) for a, b in zip(sr, hr)])),
        "ssim": float(np.mean([ssim_y(a, b, scale) for a, b in zip(sr, hr)])),
    }


# --------------------------------------------------------------------------------------- data
def downscale(hr: torch.Tensor | np.ndarray, scale: int) -> np.ndarray:
    """Antialiased bicubic ``↓scale`` (the degradation of every LR input here), NCHW float [0, 1]."""
    t = torch.as_tensor(np.asarray(hr, np.float32))
    with torch.no_grad():
        lr = F.interpolate(t, scale_factor=1.0 / scale, mode="bicubic", align_corners=False, antialias=True)
    return lr.clamp(0, 1).numpy()


def upscale_bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline: plain bicubic ``↑scale`` of NCHW [0, 1] images."""
    with torch.no_grad():
        up = F.interpolate(
            torch.from_numpy(np.asarray(lr, np.float32)),
            scale_factor=scale,
            mode="bicubic",
            align_corners=False,
        )
    return up.clamp(0, 1).numpy()


@lru_cache(maxsize=4)
def held_out_faces(scale: int, lr_size: int = 64) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(HR (N,3,rS,rS), landmarks (N,5,2) in HR pixels, identities)`` of the held-out faces."""
    from biogate.exporters.data.face_data import augmented_views, load_faces

    size = lr_size * scale
    hr, marks, ids = [], [], []
    for i, face in enumerate(load_faces(size=size, min_size=40, lfw=False)):
        if face.identity not in HELD_OUT_IDENTITIES:
            continue
        for view in [face, *augmented_views(face, VIEWS_PER_TEST_FACE, seed=500 + i)]:
            hr.append(view.image.transpose(2, 0, 1).astype(np.float32) / 255.0)
            marks.append(view.landmarks)
            ids.append(face.identity)
    return np.stack(hr), np.stack(marks).astype(np.float32), tuple(ids)


@lru_cache(maxsize=1)
def _training_photos() -> tuple[list[np.ndarray], list[tuple[int, np.ndarray]]]:
    """RGB float photographs (held-out faces blanked) and the training-face boxes per photo."""
    from biogate.exporters.training.ksvd import hd_images

    images = [im for _, im in hd_images(HELD_OUT_IDENTITIES, grey=False)]
    from biogate.exporters.data.face_data import load_photos

    boxes = [
        (k, box)
        for k, photo in enumerate(load_photos())
        for box, ident in zip(photo.boxes, photo.identities)
        if ident not in HELD_OUT_IDENTITIES
    ]
    return images, boxes


def sample_set(rng: np.random.Generator, n: int, lr_size: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """One training set: ``n`` paired ``(LR (n,3,s,s), HR (n,3,rs,rs))`` blocks, float [0, 1]."""
    import cv2

    images, boxes = _training_photos()
    hr_size = lr_size * scale
    hr = np.empty((n, 3, hr_size, hr_size), np.float32)
    for i in range(n):
        zoom = rng.uniform(0.55, 1.0)  # varied face sizes; HR pixels stay real photo pixels (no upsampling)
        if rng.random() < 0.5:
            k, box = boxes[rng.integers(len(boxes))]
            im = images[k]
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            cx += rng.normal(0, 0.3) * (box[2] - box[0])
            cy += rng.normal(0, 0.3) * (box[3] - box[1])
        else:
            im = images[rng.integers(len(images))]
            cx, cy = rng.uniform(0, im.shape[1]), rng.uniform(0, im.shape[0])
        src = hr_size / zoom
        x0 = int(np.clip(cx - src / 2, 0, im.shape[1] - src))
        y0 = int(np.clip(cy - src / 2, 0, im.shape[0] - src))
        crop = im[y0 : y0 + round(src), x0 : x0 + round(src)]
        crop = cv2.resize(crop, (hr_size, hr_size), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        hr[i] = crop.transpose(2, 0, 1)
    return downscale(hr, scale), hr


# ------------------------------------------------------------------------------------ training
@dataclass
class TrainConfig:
    """Optimisation and stop/acceptance settings (spec §3.1, §6 #12–#14)."""

    set_size: int = 32
    lr_patch: int = 64
    lr: float = 2e-3
    lr_final: float = 2e-5
    max_iters: int = 300_000
    minutes: float = 15.0
    loss_target: float = 0.0  # stop when every running loss is below it (0 = never)
    aux_weight: float = 1.0
    aux_final: float = 0.1
    min_psnr_gain: float = 1.0
    min_ssim_gain: float = 0.0
    max_rounds: int = 2
    threads: int = 1  # more than one thread on a shared, busy CPU only adds barrier waits
    seed: int = 0
    log_every: int = 25


def _losses(net: torch.nn.Module, lr_t: torch.Tensor, hr_t: torch.Tensor) -> list[torch.Tensor]:
    main, aux = net.forward_train(lr_t)
    return [F.l1_loss(main, hr_t)] + [F.l1_loss(a, hr_t) for a in aux]


def train_round(
    net: torch.nn.Module,
    cfg: TrainConfig,
    scale: int,
    rng: np.random.Generator,
    lr_scale: float = 1.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One round of iterative training over fresh sample sets; returns why and when it stopped."""
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr * lr_scale, betas=(0.9, 0.999))
    start, it, running = time.time(), 0, None
    reason = "max_iters"
    net.train()
    while it < cfg.max_iters:
        elapsed = (time.time() - start) / 60.0
        if elapsed >= cfg.minutes:
            reason = "time budget"
            break
        progress = min(1.0, max(elapsed / cfg.minutes, it / cfg.max_iters))
        for group in opt.param_groups:  # cosine decay over whichever budget ends first
            lo, hi = cfg.lr_final * lr_scale, cfg.lr * lr_scale
            group["lr"] = lo + 0.5 * (hi - lo) * (1 + math.cos(math.pi * progress))
        aux_w = cfg.aux_weight + (cfg.aux_final - cfg.aux_weight) * progress
        lr_np, hr_np = sample_set(rng, cfg.set_size, cfg.lr_patch, scale)
        losses = _losses(net, torch.from_numpy(lr_np), torch.from_numpy(hr_np))
        total = losses[0] + aux_w * sum(losses[1:], torch.zeros(()))
        opt.zero_grad()
        total.backward()
        opt.step()
        it += 1
        values = np.array([float(v.detach()) for v in losses])
        running = values if running is None else 0.95 * running + 0.05 * values
        if it % cfg.log_every == 0:
            log(f"it {it} ({elapsed:.1f} min) losses {np.round(running, 5).tolist()}")
        if cfg.loss_target > 0 and it > 50 and (running < cfg.loss_target).all():
            reason = "loss target"
            break
    net.eval()
    return {"iterations": it, "stop": reason, "running_losses": [] if running is None else running.tolist()}


def evaluate_net(
    net: torch.nn.Module | Callable[[np.ndarray], np.ndarray], scale: int, lr_size: int = 64
) -> dict[str, float]:
    """PSNR/SSIM (Y) of ``net`` and of bicubic on the held-out faces; ``net`` may be any LR→SR callable."""
    hr, _, _ = held_out_faces(scale, lr_size)
    lr = downscale(hr, scale)
    if isinstance(net, torch.nn.Module):
        with torch.no_grad():
            sr = net(torch.from_numpy(lr)).numpy()
    else:
        sr = net(lr)
    if sr.shape[-2:] != hr.shape[-2:]:
        raise ConfigError(f"SR output {sr.shape[-2:]} does not reach the required resolution {hr.shape[-2:]}")
    ours, bic = sr_scores(sr, hr, scale), sr_scores(upscale_bicubic(lr, scale), hr, scale)
    return {
        "psnr": ours["psnr"],
        "ssim": ours["ssim"],
        "psnr_bicubic": bic["psnr"],
        "ssim_bicubic": bic["ssim"],
        "psnr_gain_db": ours["psnr"] - bic["psnr"],
        "ssim_gain": ours["ssim"] - bic["ssim"],
        "samples": float(len(hr)),
    }


def accept(metrics: dict[str, float], cfg: TrainConfig) -> bool:
    """The acceptance test of §6 #14 (resolution is checked inside :func:`evaluate_net`)."""
    return metrics["psnr_gain_db"] >= cfg.min_psnr_gain and metrics["ssim_gain"] >= cfg.min_ssim_gain


def fit(
    net: torch.nn.Module,
    cfg: TrainConfig,
    scale: int,
    log: Callable[[str], None] = print,
    on_round: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train round after round until the acceptance test passes or ``max_rounds`` are spent.

    ``on_round(result_so_far)`` runs after every round (the CLI saves the weights there, so an
    interrupted later round never loses an earlier one).
    """
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    rounds: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for k in range(cfg.max_rounds):
        info = train_round(net, cfg, scale, rng, lr_scale=0.5**k, log=log)
        metrics = evaluate_net(net, scale)
        ok = accept(metrics, cfg)
        rounds.append({**info, "metrics": metrics, "accepted": ok})
        log(f"round {k + 1}: {info['iterations']} its ({info['stop']}), held-out {metrics}, accepted={ok}")
        result = {"rounds": rounds, "accepted": ok, "metrics": metrics}
        if on_round is not None:
            on_round(result)
        if ok:
            break
    return result


# ------------------------------------------------------------------------------- nets and files
def build_net(arch: str, config: str, scale: int, dictionary: Path | None = None) -> torch.nn.Module:
    """A fresh ``dual`` (``edge``/``faithful`` config) or ``rdn`` net; ``dual`` loads its K-SVD dictionary."""
    from dataclasses import replace

    from biogate.exporters.nets.dual_sr import EDGE, FAITHFUL, DualChannelSR
    from biogate.exporters.nets.rdn import RDN, RDN_EDGE
    from biogate.exporters.training.ksvd import load_dictionary

    if arch == "rdn":
        return RDN(replace(RDN_EDGE, scale=scale))
    if arch != "dual" or config not in ("edge", "faithful"):
        raise ConfigError(f"unknown SR net {arch!r}/{config!r}; use dual/edge, dual/faithful or rdn")
    cfg = replace(EDGE if config == "edge" else FAITHFUL, scale=scale)
    path = dictionary or WEIGHTS_DIR / f"sr_dict_{config}.npz"
    return DualChannelSR(cfg, torch.from_numpy(load_dictionary(path)))


def weights_path(arch: str, config: str, scale: int) -> Path:
    name = "sr_rdn" if arch == "rdn" else f"sr_dual_{config}"
    return WEIGHTS_DIR / f"{name}_x{scale}.pt"


def save_net(net: torch.nn.Module, path: Path, arch: str, extra: dict[str, Any]) -> None:
    """State dict (aux heads dropped) + config + training record in one ``torch.save`` file."""
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("aux.")}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"arch": arch, "config": net.cfg.to_json(), "state_dict": state, "record": json.dumps(extra)}, path
    )


def load_net(path: Path) -> torch.nn.Module:
    """The inference net (no aux heads, eval mode) saved by :func:`save_net`."""
    from biogate.exporters.nets.dual_sr import DualChannelSR, config_from_json
    from biogate.exporters.nets.rdn import RDN, RDNConfig

    if not Path(path).is_file():
        raise ConfigError(
            f"no SR weights at {path}; train them with `python -m biogate.exporters.training.train_sr`"
        )
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob["arch"] == "rdn":
        net: torch.nn.Module = RDN(RDNConfig(**blob["config"]))
    else:
        cfg = config_from_json(blob["config"])
        net = DualChannelSR(cfg, blob["state_dict"]["dictionary.dictionary"], aux_heads=False)
    net.load_state_dict(blob["state_dict"])
    return net.eval()


def training_record(path: Path) -> dict[str, Any]:
    return json.loads(torch.load(path, map_location="cpu", weights_only=True)["record"])


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=("dual", "rdn"), default="dual")
    ap.add_argument("--config", choices=("edge", "faithful"), default="edge")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--dictionary", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    for f, v in asdict(TrainConfig()).items():
        ap.add_argument(f"--{f.replace('_', '-')}", type=type(v), default=v)
    args = ap.parse_args(argv)
    cfg = TrainConfig(**{f: getattr(args, f) for f in asdict(TrainConfig())})
    torch.set_num_threads(cfg.threads)
    net = build_net(args.arch, args.config, args.scale, args.dictionary)
    out = args.out or weights_path(args.arch, args.config, args.scale)
    head = {"train_config": asdict(cfg), "arch": args.arch, "config": args.config, "scale": args.scale}
    result = fit(net, cfg, args.scale, on_round=lambda r: save_net(net, out, args.arch, {**head, **r}))
    print(json.dumps({"saved": str(out), "accepted": result["accepted"], **result["metrics"]}, indent=2))


if __name__ == "__main__":
    main()
