"""Face scenes for the RGB camera: a drawn face over clutter, and real faces placed into a frame.

* :func:`render_face` — ``synthetic://face``: a textured face sprite (skin pores, eyes, hair)
  moving over a cluttered background while the focus hunts (:func:`biogate.sim.focus.focus_cycle`);
  deterministic for a given (seed, index), with its box and blur in the returned truth.
* :func:`place_face` — a face image pasted square into a background at a position (the walk-up
  of :mod:`biogate.sim.walkup` and the frame-selection clip of :mod:`biogate.demo_select`);
* :class:`FaceComposer` — composites of face crops pasted rotated, scaled and blended into
  backgrounds, with exact box and quad labels (the face detector's training scenes,
  :class:`biogate.exporters.training.train_face_detector.Composer`).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Dict, Sequence

import cv2
import numpy as np

from ..errors import ConfigError
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


class FaceComposer:
    """Random composites of face crops on face-free backgrounds, with exact box and quad labels.

    Each composite (``canvas`` × ``canvas`` RGB) is a background (a random square of one of
    ``backgrounds``, rotated and re-lit, or a plain gradient with noise) with 0-2 ``negatives``
    (non-face distractors) and 1-3 faces of 14-110 px pasted at 0/90/180/270° plus up to ±15°,
    with colour, blur and noise jitter, blended with a feathered ellipse. The labels are exact:
    the transformed face quad's four vertices and their bounding box.

    Args:
        faces: ``(crop, quad)`` pairs: an RGB crop and the face's quad (4, 2) in crop pixels
            (corners clockwise from the top left); crops of side <= 25 count as grey LFW crops.
        backgrounds: RGB images with no face in them (none: gradients only).
        negatives: 25 × 25 RGB non-face crops pasted as distractors.
        weights: how often each face is drawn (sums to 1; default uniform).
        seed: the composites are a pure function of ``seed`` (``rng`` may be replaced).
    """

    def __init__(
        self,
        faces: Sequence[tuple[np.ndarray, np.ndarray]],
        backgrounds: Sequence[np.ndarray] = (),
        negatives: Sequence[np.ndarray] = (),
        weights: np.ndarray | None = None,
        seed: int = 0,
        canvas: int = 160,
    ) -> None:
        if not faces:
            raise ConfigError("FaceComposer needs at least one face crop (faces is empty)")
        self.canvas = canvas
        self.rng = np.random.default_rng(seed)
        self._masks: dict[int, np.ndarray] = {}
        self.faces = list(faces)
        self.weights = weights
        self.negatives = list(negatives)
        self.backgrounds = list(backgrounds)

    def _background(self) -> np.ndarray:
        rng = self.rng
        if not self.backgrounds or rng.random() < 0.15:  # plain gradient + noise
            a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
            t = np.linspace(0, 1, self.canvas)[:, None, None]
            img = (a * (1 - t) + b * t) * np.ones((1, self.canvas, 1))
            return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        src = self.backgrounds[rng.integers(len(self.backgrounds))]
        h, w = src.shape[:2]
        side = int(rng.uniform(0.3, 1.0) * min(h, w))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        img = cv2.resize(
            src[y : y + side, x : x + side], (self.canvas, self.canvas), interpolation=cv2.INTER_AREA
        )
        img = np.rot90(img, rng.integers(4)).copy()
        return np.clip(img * rng.uniform(0.6, 1.3) + rng.uniform(-30, 30), 0, 255).astype(np.uint8)

    def _paste(
        self, canvas: np.ndarray, crop: np.ndarray, quad: np.ndarray, side: float, angle: float, at
    ) -> np.ndarray:
        """Blend ``crop`` so its ``quad`` gets side ``side``, rotation ``angle``, centre ``at``; new quad."""
        rng = self.rng
        centre = quad.mean(0)
        scale = side / max(np.linalg.norm(quad[1] - quad[0]), 1.0)
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
        m[:, 2] += np.asarray(at) - centre
        new_quad = (quad @ m[:, :2].T + m[:, 2]).astype(np.float32)
        key = id(crop)
        if key not in self._masks:  # feathered ellipse over the face, computed once per source crop
            h, w = crop.shape[:2]
            mask = np.zeros((h, w), np.float32)
            axes = (np.linalg.norm(quad[1] - quad[0]) * 0.62, np.linalg.norm(quad[3] - quad[0]) * 0.75)
            centre16 = (centre * 16).astype(int).tolist()
            cv2.ellipse(
                mask, centre16, (int(axes[0] * 16), int(axes[1] * 16)), 0, 0, 360, 1.0, -1, cv2.LINE_AA, 4
            )
            self._masks[key] = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.08 * w))
        # Work only inside the pasted region of the canvas.
        h, w = crop.shape[:2]
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) @ m[:, :2].T + m[:, 2]
        x0, y0 = np.clip(np.floor(corners.min(0)).astype(int), 0, self.canvas)
        x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int), 0, self.canvas)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return new_quad
        local = m.copy()
        local[:, 2] -= (x0, y0)
        size = (int(x1 - x0), int(y1 - y0))
        face = cv2.warpAffine(crop, local, size, flags=cv2.INTER_LINEAR).astype(np.float32)
        alpha = cv2.warpAffine(self._masks[key], local, size, flags=cv2.INTER_LINEAR)[:, :, None]
        if crop.shape[0] <= 25 and rng.random() < 0.6:  # grey LFW crop: give it a skin-like tint
            face = face * rng.uniform([0.85, 0.7, 0.6], [1.1, 0.95, 0.85]).astype(np.float32)
        face = face * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)
        if rng.random() < 0.3:
            face = cv2.GaussianBlur(face, (0, 0), rng.uniform(0.5, 2.0))
        roi = canvas[y0:y1, x0:x1]
        roi[:] = (roi * (1 - alpha) + np.clip(face, 0, 255) * alpha).astype(np.uint8)
        return new_quad

    def sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One composite: image (canvas, canvas, 3) uint8, boxes (K, 4), quads (K, 4, 2)."""
        rng = self.rng
        canvas = self._background()
        boxes: list[np.ndarray] = []
        quads: list[np.ndarray] = []
        for _ in range(rng.integers(0, 3) if self.negatives else 0):
            neg = self.negatives[rng.integers(len(self.negatives))]
            q = np.array([[0, 0], [25, 0], [25, 25], [0, 25]], np.float32)
            self._paste(
                canvas, neg, q, rng.uniform(16, 70), rng.uniform(0, 360), rng.uniform(10, self.canvas - 10, 2)
            )
        for _ in range(rng.integers(1, 4)):
            i = rng.choice(len(self.faces), p=self.weights)
            side = math.exp(rng.uniform(math.log(14), math.log(min(110.0, 0.8 * self.canvas))))
            angle = 90.0 * rng.integers(4) + rng.uniform(-15, 15)
            at = rng.uniform(side * 0.4, self.canvas - side * 0.4, 2)
            crop, quad = self.faces[i]
            # Reject placements overlapping an earlier face.
            box = np.array([at[0] - side / 2, at[1] - side / 2, at[0] + side / 2, at[1] + side / 2])
            if any(_overlap(box, b) > 0.05 for b in boxes):
                continue
            q = self._paste(canvas, crop, quad, side, angle, at)
            boxes.append(np.concatenate([q.min(0), q.max(0)]))
            quads.append(q)
        if rng.random() < 0.5:
            noise = rng.standard_normal(canvas.shape, dtype=np.float32) * rng.uniform(2, 10)
            canvas = np.clip(canvas + noise, 0, 255).astype(np.uint8)
        return (
            canvas,
            np.array(boxes, np.float32).reshape(-1, 4),
            np.array(quads, np.float32).reshape(-1, 4, 2),
        )


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box (a small face pasted on a big one's cheek counts)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


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


__all__ = ["FaceComposer", "clutter", "place_face", "render_face"]
