"""Training samples for the any-orientation proposal net: real photographs turned, scaled and cut.

Every sample is a small canvas (default 64x64) cut from a *real, fully labelled* training
photograph (:func:`biogate.exporters.data.face_detect_data.load_detect_photos`, held-out ones never)
through one affine map: turned by any angle (half of them near 0/90/180/270°, the seed's rotations,
the rest uniform over the circle), scaled so a chosen face is 11-26 px, shifted. Every face of the
photograph goes through the same map, so labels are exact and every other face is labelled too.
Also: composites of the 100 grey LFW-subset faces (tinted) pasted on face-free scenes, pure
face-free scenes (OpenCV's and scikit-image's samples), and canvases centred on **mined hard
negatives** (places where the current net fires on no face).  Colour, blur, grey and noise jitter.

Targets on the stride-4 grid (:mod:`biogate.models.face_detect_any`): score 1 on the cells whose
centre lies within 0.3 face sides of a face of 11-26 px, 0 elsewhere; cells near faces of 7-11 or
26-40 px, near ignore regions or off the photograph are not scored.  Centre offset, log size and
(cos, sin) of the face's angle are regressed on the score-1 cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from biogate.models.face_any_geometry import STRIDE, UNIT

from .face_detect_data import DetectPhoto, load_detect_photos, scene_images

POS_RANGE = (11.0, 26.0)
IGNORE_RANGE = (7.0, 40.0)


def jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour, grey, blur and noise jitter of a uint8 RGB sample (every face sampler's)."""
    img = image.astype(np.float32)
    if rng.random() < 0.2:
        img[:] = img.mean(2, keepdims=True)
    img = img * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)
    img = img * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    if rng.random() < 0.25:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < 0.4:
        img += rng.standard_normal(img.shape).astype(np.float32) * rng.uniform(2, 10)
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass
class Targets:
    """Per-canvas targets on the (S/4, S/4) grid."""

    score: np.ndarray  # float32 0/1
    weight: np.ndarray  # float32 0 (ignored) / 1
    reg: np.ndarray  # (5, g, g): dx, dy, log-size, cos, sin (valid where score == 1)


@dataclass
class HardNegative:
    """Where the net fired on no face: photo index (-1: a scene), angle, scale and level point."""

    photo: int
    angle: float
    scale: float
    point: tuple[float, float]


@dataclass
class Sampler:
    """Draws (canvas, :class:`Targets`) pairs; see the module docstring."""

    seed: int = 0
    size: int = 64
    photos: list[DetectPhoto] = field(default_factory=list)
    hard: list[HardNegative] = field(default_factory=list)

    def __post_init__(self) -> None:
        import skimage.data

        self.rng = np.random.default_rng(self.seed)
        if not self.photos:
            self.photos = load_detect_photos(held_out=False)
        self.scenes = scene_images()
        self.lfw = [(np.clip(f * 255, 0, 255)).astype(np.uint8) for f in skimage.data.lfw_subset()[:100]]
        self._pyr: dict[int, list[np.ndarray]] = {}

    # -- geometry ------------------------------------------------------------------------
    def _angle(self) -> float:
        if self.rng.random() < 0.5:
            return 90.0 * self.rng.integers(4) + self.rng.uniform(-35, 35)
        return self.rng.uniform(0, 360)

    def _levels(self, key: int, image: np.ndarray) -> list[np.ndarray]:
        if key not in self._pyr:
            levels = [image]
            while min(levels[-1].shape[:2]) > 64:
                levels.append(cv2.pyrDown(levels[-1]))
            self._pyr[key] = levels
        return self._pyr[key]

    def _warp(self, key: int, image: np.ndarray, angle: float, scale: float, src: np.ndarray, dst) -> tuple:
        """Canvas of ``image`` turned by ``angle`` and scaled by ``scale`` with point ``src`` at ``dst``."""
        levels = self._levels(key, image)
        k = 0
        while k + 1 < len(levels) and scale * 2 ** (k + 1) <= 1.0:
            k += 1
        m = cv2.getRotationMatrix2D((float(src[0]), float(src[1])), angle, scale)
        m[:, 2] += np.asarray(dst, np.float64) - src
        lm = m.copy()
        lm[:, :2] *= 2**k  # the same map, read from the 2^k-smaller level
        border = tuple(int(v) for v in self.rng.integers(0, 256, 3))
        canvas = cv2.warpAffine(
            levels[k], lm, (self.size, self.size), flags=cv2.INTER_LINEAR, borderValue=border
        )
        valid = cv2.warpAffine(
            np.ones(levels[k].shape[:2], np.uint8), lm, (self.size, self.size), flags=cv2.INTER_NEAREST
        )
        return canvas, m, valid

    # -- samples -------------------------------------------------------------------------
    def sample(self) -> tuple[np.ndarray, Targets]:
        """One canvas (S, S, 3) uint8 RGB and its targets."""
        u = self.rng.random()
        if self.hard and u < 0.2:
            canvas, faces, ignore, valid = self._hard()
        elif u < 0.75:
            canvas, faces, ignore, valid = self._from_photo()
        elif u < 0.92:
            canvas, faces, ignore, valid = self._lfw_composite()
        else:
            canvas, faces, ignore, valid = self._scene()
        return self._jitter(canvas), self._targets(faces, ignore, valid)

    def _from_photo(self, index: int | None = None, angle=None, scale=None, point=None):
        rng = self.rng
        i = int(rng.integers(len(self.photos))) if index is None else index
        photo = self.photos[i]
        sides = np.linalg.norm(photo.quads[:, 1] - photo.quads[:, 0], axis=1)
        rolls = np.degrees(
            np.arctan2(
                -(photo.quads[:, 1, 1] - photo.quads[:, 0, 1]), photo.quads[:, 1, 0] - photo.quads[:, 0, 0]
            )
        )
        angle = self._angle() if angle is None else angle
        if point is None:
            if rng.random() < 0.7:  # centred near a face of the trained size
                j = int(rng.integers(len(sides)))
                target = math.exp(rng.uniform(math.log(9.0), math.log(30.0)))
                scale = target / float(sides[j])
                c = photo.quads[j].mean(0)
                dst = rng.uniform(8, self.size - 8, 2)
            else:  # anywhere, at any face size
                target = math.exp(rng.uniform(math.log(5.0), math.log(60.0)))
                scale = target / float(np.median(sides))
                h, w = photo.image.shape[:2]
                c = rng.uniform(0, 1, 2) * (w, h)
                dst = np.array([self.size / 2.0] * 2)
        else:
            c, dst = np.asarray(point, np.float64), np.array([self.size / 2.0] * 2)
        canvas, m, valid = self._warp(i, photo.image, angle, scale, c, dst)
        quads = (photo.quads.reshape(-1, 2) @ m[:, :2].T + m[:, 2]).reshape(-1, 4, 2)
        faces = [(q.mean(0), float(sides[n] * scale), angle + float(rolls[n])) for n, q in enumerate(quads)]
        ignore = []
        for b in photo.ignore:
            pts = np.array([[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]]]) @ m[:, :2].T + m[:, 2]
            ignore.append(np.concatenate([pts.min(0), pts.max(0)]))
        return canvas, faces, ignore, valid

    def _scene(self, index: int | None = None, angle=None, scale=None, point=None):
        rng = self.rng
        i = int(rng.integers(len(self.scenes))) if index is None else index
        img = self.scenes[i]
        h, w = img.shape[:2]
        angle = rng.uniform(0, 360) if angle is None else angle
        scale = math.exp(rng.uniform(math.log(0.1), math.log(1.5))) if scale is None else scale
        c = rng.uniform(0, 1, 2) * (w, h) if point is None else np.asarray(point, np.float64)
        canvas, _, valid = self._warp(-1 - i, img, angle, scale, c, np.array([self.size / 2.0] * 2))
        return canvas, [], [], valid

    def _hard(self):
        neg = self.hard[int(self.rng.integers(len(self.hard)))]
        jitter = self.rng.uniform(-6, 6, 2) / neg.scale
        point = np.asarray(neg.point) + jitter
        if neg.photo < 0:
            return self._scene(-1 - neg.photo, neg.angle, neg.scale, point)
        return self._from_photo(neg.photo, neg.angle, neg.scale, point)

    def _lfw_composite(self):
        rng = self.rng
        canvas, _, _, _ = self._scene()
        valid = np.ones(canvas.shape[:2], np.uint8)
        faces = []
        for _ in range(int(rng.integers(1, 3))):
            crop = np.dstack([self.lfw[int(rng.integers(len(self.lfw)))]] * 3).astype(np.float32)
            if rng.random() < 0.6:
                crop *= rng.uniform([0.85, 0.7, 0.55], [1.1, 0.95, 0.85]).astype(np.float32)
            side = math.exp(rng.uniform(math.log(9.0), math.log(30.0)))
            angle = self._angle()
            at = rng.uniform(side / 2, self.size - side / 2, 2)
            if any(np.linalg.norm(at - f[0]) < (side + f[1]) / 2 for f in faces):
                continue
            m = cv2.getRotationMatrix2D((12.5, 12.5), angle, side / 25.0)
            m[:, 2] += at - 12.5
            mask = np.zeros((25, 25), np.float32)
            cv2.ellipse(mask, (12, 12), (11, 12), 0, 0, 360, 1.0, -1)
            mask = cv2.GaussianBlur(mask, (0, 0), 1.5)
            face = cv2.warpAffine(crop, m, (self.size, self.size), flags=cv2.INTER_LINEAR)
            alpha = cv2.warpAffine(mask, m, (self.size, self.size), flags=cv2.INTER_LINEAR)[:, :, None]
            canvas = (canvas * (1 - alpha) + face * alpha).astype(np.uint8)
            faces.append((at, side, angle))
        return canvas, faces, [], valid

    def _jitter(self, canvas: np.ndarray) -> np.ndarray:
        return jitter(canvas, self.rng)

    def _targets(self, faces: list, ignore: list, valid: np.ndarray) -> Targets:
        g = self.size // STRIDE
        centres = (np.arange(g) * STRIDE + STRIDE / 2.0).astype(np.float32)
        cx, cy = np.meshgrid(centres, centres)
        score = np.zeros((g, g), np.float32)
        weight = cv2.resize(valid.astype(np.float32), (g, g), interpolation=cv2.INTER_AREA)
        weight = (weight > 0.5).astype(np.float32)
        reg = np.zeros((5, g, g), np.float32)
        best = np.full((g, g), np.inf, np.float32)
        for c, side, angle in faces:
            d = np.hypot(cx - c[0], cy - c[1])
            if POS_RANGE[0] <= side <= POS_RANGE[1]:
                near = (d <= max(0.3 * side, STRIDE * 0.75)) & (d < best)
                score[near], best[near] = 1.0, d[near]
                reg[0][near] = (c[0] - cx[near]) / UNIT
                reg[1][near] = (c[1] - cy[near]) / UNIT
                reg[2][near] = math.log(side / UNIT)
                reg[3][near] = math.cos(math.radians(angle))
                reg[4][near] = math.sin(math.radians(angle))
                weight[(d <= 0.6 * side) & (score == 0)] = 0.0  # the ring around a face: not scored
            elif IGNORE_RANGE[0] <= side <= IGNORE_RANGE[1]:
                weight[d <= max(0.5 * side, STRIDE)] = 0.0
        for b in ignore:
            weight[(cx >= b[0]) & (cx <= b[2]) & (cy >= b[1]) & (cy <= b[3])] = 0.0
        weight[score == 1] = 1.0
        return Targets(score, weight, reg)


__all__ = ["HardNegative", "Sampler", "Targets", "jitter"]
