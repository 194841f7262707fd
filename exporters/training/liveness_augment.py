"""Genuine-only augmentation for the seed-004 liveness training (no attack artefact is ever added).

``AUGMENTATIONS`` maps the training CLI's ``--augment`` names to one-presentation functions;
:func:`batches` streams augmented batches. Every function ends in the terminal's camera model
(:func:`biogate.exporters.pad.attacks.camera_capture`), the same one the evaluation applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from biogate.exporters.pad.attacks import camera_capture
from biogate.exporters.pad.protocol import to_tensor_layout


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


def augment_heavy(work: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """One genuine presentation with the variation a kiosk camera sees across visits (round 2).

    Wider pose/scale/shift than :func:`augment` (a person walks up at different distances), a
    lighting gradient across the face (a lamp on one side), exposure, gamma and a small white-balance
    error, occasional defocus (σ ≤ 0.6 model pixels) and JPEG re-encoding, then the same camera
    model as at test time. Still nothing that an attack generator adds: no halftone, paper
    texture, display grid, glare blob or gamut compression (raised blacks / capped whites).
    """
    side = work.shape[0]
    m = cv2.getRotationMatrix2D((side / 2, side / 2), rng.uniform(-15, 15), rng.uniform(0.85, 1.15))
    m[:, 2] += rng.uniform(-0.08, 0.08, size=2) * side
    border = cv2.BORDER_REFLECT if rng.random() < 0.7 else cv2.BORDER_REPLICATE
    img = cv2.warpAffine(work, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=border)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    x = img.astype(np.float32) / 255.0
    # Directional lighting: a linear ramp of ±15 % across the image in a random direction.
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.linspace(-1.0, 1.0, side, dtype=np.float32)
    grad = np.cos(theta) * ramp[None, :] + np.sin(theta) * ramp[:, None]
    x = x * (1.0 + rng.uniform(0, 0.15) * grad[..., None])
    x = x * rng.uniform(0.8, 1.2) + rng.uniform(-0.05, 0.05)
    x = np.clip(x, 0, 1) ** rng.uniform(0.85, 1.15)
    x = x * rng.uniform(0.96, 1.04, size=3).astype(np.float32)  # white balance
    img = np.round(np.clip(x, 0, 1) * 255.0).astype(np.uint8)
    if rng.random() < 0.3:  # defocus, at most 0.6 model pixels
        sigma = rng.uniform(0.2, 0.6) * side / size
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = camera_capture(img, size, rng)
    if rng.random() < 0.5:  # the terminal's JPEG stream
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))])
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else img
    return np.ascontiguousarray(img)


AUGMENTATIONS = {"mild": augment, "heavy": augment_heavy}


def batches(works: Sequence[np.ndarray], size: int, batch: int, rng: np.random.Generator, aug=augment):
    """Endless stream of (images N×3×S×S in [-1, 1], face indices) drawn without replacement per epoch.

    With fewer faces than ``batch``, each batch repeats faces (different augmentations).
    """
    while True:
        order = rng.permutation(len(works))
        if len(order) < batch:
            order = np.concatenate([rng.permutation(len(works)) for _ in range(-(-batch // len(works)))])
        for start in range(0, len(order) - batch + 1, batch):
            idx = order[start : start + batch]
            imgs = np.stack([aug(works[i], size, rng) for i in idx])
            yield torch.from_numpy(to_tensor_layout(imgs)), torch.from_numpy(idx.astype(np.int64))
