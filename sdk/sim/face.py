"""Face scenes for the RGB camera: a drawn face over clutter, and real faces placed into a frame.

* :func:`render_face` — ``synthetic://face``: a textured face sprite (skin pores, eyes, hair)
  moving over a cluttered background while the focus hunts (:func:`biogate.sim.focus.focus_cycle`);
  deterministic for a given (seed, index), with its box and blur in the returned truth.
* :func:`place_face` — a face image pasted square into a background at a position (the walk-up
  of :mod:`biogate.sim.walkup` and the frame-selection clip of :mod:`biogate.demo_select`).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Dict

import cv2
import numpy as np

from .focus import MIN_SIGMA, defocus, focus_cycle

Truth = Dict[str, Any]


@functools.lru_cache(maxsize=4)
def _face_assets(seed: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(60, 170, width, dtype=np.float32)[None, :, None]
    bg = np.broadcast_to(ramp * np.array([0.9, 1.0, 1.1], np.float32), (height, width, 3)).astype(np.uint8)
    bg = np.ascontiguousarray(bg)
    for _ in range(40):  # clutter: shelves, posters, door frames
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(10, width // 4)), int(rng.integers(10, height // 4))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        cv2.rectangle(bg, (x, y), (x + w, y + h), colour, -1 if rng.random() < 0.6 else 2)
    fh = max(24, int(height * 0.42))
    fw = int(fh * 0.76)
    sprite = np.zeros((fh, fw, 3), np.uint8)
    mask = np.zeros((fh, fw), np.uint8)
    centre, axes = (fw // 2, fh // 2), (fw // 2 - 1, fh // 2 - 1)
    tone = np.array([90, 140, 200], np.float32) * (0.7 + 0.3 * rng.random())
    cv2.ellipse(sprite, centre, axes, 0, 0, 360, tuple(float(c) for c in tone), -1)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
    skin = sprite.astype(np.int16) + rng.integers(-14, 15, (fh, fw, 1), dtype=np.int16)  # pores: fine detail
    sprite = np.clip(skin, 0, 255).astype(np.uint8)
    cv2.ellipse(sprite, (fw // 2, fh // 8), (fw // 2 - 1, fh // 7), 0, 180, 360, (30, 30, 40), -1)  # hair
    for i in range(0, fw, 3):
        cv2.line(sprite, (i, 0), (i + int(rng.integers(-4, 5)), fh // 6), (15, 15, 25), 1)
    for ex in (fw // 3, 2 * fw // 3):  # eyes, brows
        cv2.ellipse(sprite, (ex, int(fh * 0.42)), (fw // 10, fh // 28), 0, 0, 360, (235, 235, 235), -1)
        cv2.circle(sprite, (ex, int(fh * 0.42)), max(2, fh // 30), (60, 40, 20), -1)
        cv2.circle(sprite, (ex, int(fh * 0.42)), max(1, fh // 70), (0, 0, 0), -1)
        cv2.line(sprite, (ex - fw // 9, int(fh * 0.35)), (ex + fw // 9, int(fh * 0.34)), (25, 25, 35), 3)
    cv2.line(sprite, (fw // 2, int(fh * 0.45)), (fw // 2 - fw // 16, int(fh * 0.62)), (60, 90, 140), 2)
    cv2.ellipse(sprite, (fw // 2, int(fh * 0.74)), (fw // 6, fh // 22), 0, 0, 180, (40, 40, 150), 3)
    return bg, sprite, mask > 0


def render_face(
    index: int,
    seed: int = 0,
    width: int = 640,
    height: int = 480,
    max_blur: float = 4.0,
    blur_period: int = 60,
) -> tuple[np.ndarray, Truth]:
    """A bgr8 frame with a face moving over clutter and blurring in and out of focus."""
    bg, sprite, mask = _face_assets(seed, width, height)
    phase = (seed * 0.618) % 1.0
    fh, fw = mask.shape
    cx = width / 2 + 0.3 * (width - fw) * math.sin(2 * math.pi * (index / 150.0 + phase))
    cy = height / 2 + 0.25 * (height - fh) * math.sin(2 * math.pi * (index / 97.0 + phase))
    x0 = int(min(max(cx - fw / 2, 0), width - fw))
    y0 = int(min(max(cy - fh / 2, 0), height - fh))
    sigma = focus_cycle(index, blur_period, max_blur, phase)
    image = bg.copy()
    np.copyto(image[y0 : y0 + fh, x0 : x0 + fw], sprite, where=mask[:, :, None])
    if sigma >= MIN_SIGMA:
        image = defocus(image, sigma)
    truth = {"scene": "face", "index": index, "seed": seed, "blur_sigma": sigma, "face_box": [x0, y0, fw, fh]}
    return image, truth


def clutter(seed: int, width: int, height: int) -> np.ndarray:
    """The cluttered room behind :func:`render_face` (bgr8, a fresh copy)."""
    return _face_assets(seed, width, height)[0].copy()


def place_face(
    background: np.ndarray, face: np.ndarray, side: int, offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """A copy of ``background`` with ``face`` resized to ``side`` × ``side`` at its centre + ``offset``.

    Both images share one channel order; the square must fit inside the background.
    """
    frame = background.copy()
    height, width = frame.shape[:2]
    x0 = (width - side) // 2 + int(offset[0])
    y0 = (height - side) // 2 + int(offset[1])
    frame[y0 : y0 + side, x0 : x0 + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    return frame


__all__ = ["clutter", "place_face", "render_face"]
