"""The seed-000 super-resolution nets: data, losses, metrics and files (spec §3.1), for ``biogate train``.

* Data — paired LR/HR blocks (§6 #11): an HR block of ``(s·r) x (s·r)`` pixels (:func:`hr_block`) cut
  from a face photograph, its LR block the antialiased bicubic ``↓r`` (PIL/Matlab-style) of it.
* L1 on the main output plus every auxiliary head (multi-loss, aux weight decayed linearly to
  ``aux_final``; :func:`_losses`).
* Acceptance (§6 #14, :func:`accept`): output resolution ≥ ``r·input`` and PSNR / SSIM (Y channel)
  at least ``min_psnr_gain`` / ``min_ssim_gain`` above bicubic; a failed acceptance sends training
  back for another round at half the learning rate
  (:mod:`biogate.exporters.training.tasks.face_sr`).

Held-out faces of the builtin data: the identities ``HELD_OUT_IDENTITIES`` (``face_data.identity_split(
faces, 0.33, seed=0)`` of the 9 full-resolution faces), each as its 128x128 crop plus 4 augmented
captures. Commands (see ``docs/sr.md`` and ``docs/training.md``)::

    nice -n 10 biogate train face_sr --data portraits --out runs/face_sr --steps 3000
    nice -n 10 biogate train face_sr_rdn --data folders:/data/faces --out runs/face_sr_rdn --epochs 20
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
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


def hr_block(im: np.ndarray, cx: float, cy: float, hr_size: int, zoom: float, flip: bool) -> np.ndarray:
    """The ``(3, hr, hr)`` block of ``im`` (H×W×3 float [0, 1]) of side ``hr / zoom`` centred near (cx, cy).

    With ``zoom`` ≤ 1 the HR pixels stay real photo pixels (area-downsampled, never upsampled) when
    the photo is large enough; the block is clipped to the photo.
    """
    import cv2

    src = min(hr_size / zoom, im.shape[0], im.shape[1])
    x0 = int(np.clip(cx - src / 2, 0, im.shape[1] - src))
    y0 = int(np.clip(cy - src / 2, 0, im.shape[0] - src))
    crop = im[y0 : y0 + round(src), x0 : x0 + round(src)]
    interp = cv2.INTER_AREA if crop.shape[0] >= hr_size else cv2.INTER_CUBIC
    crop = cv2.resize(crop, (hr_size, hr_size), interpolation=interp)
    if flip:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop.transpose(2, 0, 1), np.float32)


def sample_set(rng: np.random.Generator, n: int, lr_size: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """One training set of the builtin photographs: ``n`` paired ``(LR (n,3,s,s), HR (n,3,rs,rs))`` blocks."""
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
        hr[i] = hr_block(im, cx, cy, hr_size, zoom, rng.random() < 0.5)
    return downscale(hr, scale), hr


# ------------------------------------------------------------------------------------ training
def _losses(net: torch.nn.Module, lr_t: torch.Tensor, hr_t: torch.Tensor) -> list[torch.Tensor]:
    main, aux = net.forward_train(lr_t)
    return [F.l1_loss(main, hr_t)] + [F.l1_loss(a, hr_t) for a in aux]


def evaluate_net(
    net: torch.nn.Module | Callable[[np.ndarray], np.ndarray],
    scale: int,
    lr_size: int = 64,
    hr: np.ndarray | None = None,
) -> dict[str, float]:
    """PSNR/SSIM (Y) of ``net`` and of bicubic on ``hr`` (default: the builtin held-out faces).

    ``net`` may be any LR→SR callable; the LR inputs are the antialiased bicubic ↓``scale`` of ``hr``.
    """
    hr = held_out_faces(scale, lr_size)[0] if hr is None else hr
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


def accept(metrics: dict[str, float], min_psnr_gain: float = 1.0, min_ssim_gain: float = 0.0) -> bool:
    """The acceptance test of §6 #14 (resolution is checked inside :func:`evaluate_net`)."""
    return metrics["psnr_gain_db"] >= min_psnr_gain and metrics["ssim_gain"] >= min_ssim_gain


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
            f"no SR weights at {path}; train a model with `biogate train face_sr` (docs/training.md)"
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
