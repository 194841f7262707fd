"""Face super-resolution (seed 000, spec §2.2) on an :mod:`biogate.engine` Engine.

:class:`SuperResolver` wraps the ``face_sr`` bundle (dual-channel SR ×2, 64x64 → 128x128).  It
crops the detected face as the model was trained (a square around the box grown by 25 % per side),
resizes it to the model's input, runs the engine and returns the super-resolved RGB face with the
mapping back to frame coordinates, so landmarks can follow the face into the SR image (the
refinement stage and the embedder need them).  numpy/OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Sequence

import cv2
import numpy as np

from ..errors import ConfigError
from ..frame import to_rgb8
from .base import BundleModel

Infer = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]

CROP_MARGIN = 0.25  # context on each side of the face box, as a fraction of its side (as in training)


@dataclass
class EnhancedFace:
    """A super-resolved face crop.

    ``image``: HxWx3 uint8 RGB.  ``origin`` (x, y) and ``scale``: a frame point ``p`` sits at
    ``(p - origin) * scale`` in ``image``.  ``landmarks``: the detection's landmarks moved into
    ``image`` (``None`` when none were given).
    """

    image: np.ndarray
    origin: np.ndarray
    scale: float
    landmarks: np.ndarray | None = None

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Frame coordinates → coordinates in :attr:`image`."""
        return (np.asarray(points, np.float32) - self.origin) * self.scale


def square_crop(
    image: np.ndarray, box: Sequence[float], margin: float = CROP_MARGIN
) -> tuple[np.ndarray, np.ndarray, float]:
    """Square crop around ``box`` (x0, y0, x1, y1) grown by ``margin``; edge pixels pad the outside.

    Returns ``(crop, origin (x, y), side)``.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ConfigError(f"face box {tuple(box)} is empty")
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    left, top, n = (
        round((x0 + x1 - side) / 2),
        round((y0 + y1 - side) / 2),
        max(1, round(side)),
    )
    h, w = image.shape[:2]
    pad = max(0, -left, -top, left + n - w, top + n - h)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else image
    crop = padded[top + pad : top + pad + n, left + pad : left + pad + n]
    return np.ascontiguousarray(crop), np.array([left, top], np.float32), float(n)


class SuperResolver(BundleModel):
    """×r super-resolution of face crops with the ``face_sr`` bundle.

    Args:
        engine: infer callable with input ``lr`` (N, 3, s, s) RGB in [0, 1] and output ``sr``
            (N, 3, r·s, r·s) — an Engine of ``face_sr`` (or ``face_sr_rdn``).
        input_size: ``s``; read from the engine's bundle when it has one.
    """

    TASKS = ("super_resolution",)
    MODEL_OPTIONS = ("input_size",)

    def __init__(self, engine: Infer, input_size: int | None = None) -> None:
        self.engine = engine
        if input_size is None:
            bundle = getattr(engine, "bundle", None)  # an Engine knows its verified bundle
            input_size = int(bundle.inputs[0]["shape"][-1]) if bundle is not None else 64
        self.input_size = int(input_size)

    def upscale(self, faces: np.ndarray) -> np.ndarray:
        """(N, s, s, 3) uint8 RGB crops of the model's input size → (N, r·s, r·s, 3) uint8 RGB."""
        faces = np.asarray(faces)
        s = self.input_size
        if faces.ndim != 4 or faces.shape[1:] != (s, s, 3) or faces.dtype != np.uint8:
            raise ConfigError(
                f"SuperResolver.upscale wants (N, {s}, {s}, 3) uint8 RGB, got {faces.shape} {faces.dtype}"
            )
        x = np.ascontiguousarray(faces.transpose(0, 3, 1, 2), np.float32) / 255.0
        sr = np.asarray(self.engine({"lr": x})["sr"])
        return np.clip(sr.transpose(0, 2, 3, 1) * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def __call__(self, face: Any, order: str = "RGB") -> np.ndarray:
        """One face crop (any size; a Frame or an array in ``order``) → its super-resolved RGB uint8 image."""
        rgb = to_rgb8(face, order)
        s = self.input_size
        if rgb.shape[:2] != (s, s):
            inter = cv2.INTER_AREA if min(rgb.shape[:2]) > s else cv2.INTER_CUBIC
            rgb = cv2.resize(rgb, (s, s), interpolation=inter)
        return self.upscale(rgb[None])[0]

    def enhance(
        self, image: Any, box: Sequence[float], landmarks: np.ndarray | None = None, order: str = "BGR"
    ) -> EnhancedFace:
        """Crop the face ``box`` out of a frame (BGR by default, as in the kiosk) and super-resolve it."""
        rgb = to_rgb8(image, order)
        crop, origin, side = square_crop(rgb, box)
        sr = self(crop, "RGB")
        scale = sr.shape[0] / side
        face = EnhancedFace(sr, origin, scale)
        if landmarks is not None:
            face.landmarks = face.to_image(landmarks)
        return face


def detection_in(enhanced: EnhancedFace, detection: Any) -> Any:
    """A copy of ``detection`` (box, landmarks) moved into the pixels of ``enhanced.image``.

    The embedder then aligns and embeds the super-resolved face exactly as it would the original.
    """
    import dataclasses

    corners = enhanced.to_image(np.asarray(detection.box, np.float32).reshape(2, 2)).reshape(-1)
    landmarks = None if detection.landmarks is None else enhanced.to_image(detection.landmarks)
    return dataclasses.replace(detection, box=corners, landmarks=landmarks)


__all__ = ["CROP_MARGIN", "EnhancedFace", "SuperResolver", "detection_in", "square_crop"]
