"""Training crops for the quarter-turn classifier (:mod:`biogate.exporters.nets.face_orient`).

Every sample is what the cascade hands the classifier: a face cut out through
:meth:`biogate.models.face_any_geometry.Pyramid.crop` at a *proposal-like* angle, size and centre —
the angle off the face's true roll by anything on the circle (the proposal net's angle can be a
quarter turn out), the side 0.65-1.7x the face's, the centre up to 0.2 sides off — and labelled with
the quarter turn that brings it closest to upright.  Faces: every face of the real *training*
photographs (:func:`~biogate.exporters.data.face_detect_data.load_detect_photos`, held-out ones
never; rolls from their landmarks) and the 100 grey LFW-subset crops (upright), each also mirrored
(the label turns the other way); colour, grey, blur and noise jitter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from biogate.models.face_any_geometry import Pyramid

from .face_any_samples import jitter
from .face_detect_data import DetectPhoto, load_detect_photos

SIZE = 24
#: Smallest labelled face (px) used; the 14-17 px rugby faces are kept (upscaled, like small proposals).
MIN_FACE = 12.0
#: LFW crops are padded by reflection so proposal-sized cuts (up to 1.7x) stay inside real pixels.
LFW_PAD = 25
LFW_SIDE = 21.0


@dataclass(frozen=True)
class FaceRef:
    """One labelled face: which image, its centre, side and roll (degrees, counter-clockwise)."""

    image: int
    cx: float
    cy: float
    side: float
    roll: float


def turn_label(roll: float, angle: float) -> int:
    """The quarter turn k (0-3) with ``angle + 90 k`` closest to ``roll``."""
    return round(((roll - angle) % 360.0) / 90.0) % 4


@dataclass
class OrientSampler:
    """Draws (crop (24, 24, 3) uint8 RGB, turn label) pairs; see the module docstring."""

    seed: int = 0
    photos: list[DetectPhoto] | None = None
    lfw_share: float = 0.4
    lfw: bool = True
    faces: list[FaceRef] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        photos = load_detect_photos(held_out=False) if self.photos is None else self.photos
        self.pyramids: list[Pyramid] = []
        self.photo_faces: list[FaceRef] = []
        for photo in photos:
            index = len(self.pyramids)
            self.pyramids.append(Pyramid(photo.image))
            for quad in photo.quads:
                top = quad[1] - quad[0]
                side = float(np.linalg.norm(top))
                if side >= MIN_FACE:
                    roll = math.degrees(math.atan2(-top[1], top[0]))
                    c = quad.mean(0)
                    self.photo_faces.append(FaceRef(index, float(c[0]), float(c[1]), side, roll))
        self.lfw_faces: list[FaceRef] = []
        if self.lfw:
            import skimage.data

            for face in skimage.data.lfw_subset()[:100]:
                grey = np.clip(face * 255, 0, 255).astype(np.uint8)
                padded = cv2.copyMakeBorder(grey, *(LFW_PAD,) * 4, cv2.BORDER_REFLECT)
                index = len(self.pyramids)
                self.pyramids.append(Pyramid(np.repeat(padded[:, :, None], 3, 2)))
                centre = LFW_PAD + grey.shape[0] / 2.0
                self.lfw_faces.append(FaceRef(index, centre, centre, LFW_SIDE, 0.0))
        self.faces = self.photo_faces + self.lfw_faces

    def _face(self) -> FaceRef:
        pool = self.lfw_faces if self.lfw_faces and self.rng.random() < self.lfw_share else self.photo_faces
        return pool[int(self.rng.integers(len(pool)))]

    def sample(self, face: FaceRef | None = None) -> tuple[np.ndarray, int]:
        rng = self.rng
        face = self._face() if face is None else face
        angle = face.roll + rng.uniform(-180.0, 180.0)
        side = face.side * math.exp(rng.uniform(math.log(0.65), math.log(1.7)))
        dx, dy = rng.uniform(-0.2, 0.2, 2) * face.side
        crop = self.pyramids[face.image].crop(face.cx + dx, face.cy + dy, side, angle, SIZE)
        label = turn_label(face.roll, angle)
        if rng.random() < 0.5:  # a mirrored face is a face turned the other way: twice the faces
            crop, label = crop[:, ::-1], (4 - label) % 4
        return jitter(np.ascontiguousarray(crop), rng), label

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` samples: crops (n, 24, 24, 3) uint8 and labels (n,) int64."""
        pairs = [self.sample() for _ in range(n)]
        return np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs], np.int64)


__all__ = ["FaceRef", "OrientSampler", "turn_label"]
