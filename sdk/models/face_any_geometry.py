"""Geometry of the any-orientation face cascade: pyramid, tiles, proposal decoding, turned crops.

Numpy/OpenCV only (no nets): :mod:`biogate.models.face_detect_any` runs the cascade on these, and
the exporters' training and evaluation cut their crops through the very same :class:`Pyramid`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import ConfigError
from .detect_ops import nms

#: Output grid stride of the proposal net, the unit of its centre/size outputs, its channels.
STRIDE = 4
UNIT = 16.0
CHANNELS = 6
#: Face side (px) at a pyramid level that the proposal net is trained for, and the pyramid step.
LEVEL_FACE = 14.0
PYRAMID_FACTOR = 0.6
#: Proposal-net tiles (level pixels) and their overlap (more than the net's receptive field).
TILE = 640
TILE_OVERLAP = 64


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def level_scales(height: int, width: int, min_face: float, factor: float = PYRAMID_FACTOR) -> list[float]:
    """Pyramid scales that bring faces from ``min_face`` px up to the image size to ~14-23 px."""
    if min_face < 8:
        raise ConfigError(f"min_face must be >= 8 px, got {min_face}")
    scale = LEVEL_FACE / float(min_face)
    scales: list[float] = []
    while min(height, width) * scale >= 2 * LEVEL_FACE:
        scales.append(scale)
        scale *= factor
    return scales or [LEVEL_FACE / float(min(height, width))]


def tiles(height: int, width: int, tile: int = TILE, overlap: int = TILE_OVERLAP) -> list[tuple[int, int]]:
    """Top-left corners (y, x) of overlapping ``tile``-sized windows covering an image (multiples of 4)."""

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        step = tile - overlap
        out = [*list(range(0, n - tile, step)), n - tile]
        return sorted({s - s % STRIDE for s in out})

    return [(y, x) for y in starts(height) for x in starts(width)]


def decode_proposals(
    raw: np.ndarray, scale: float, threshold: float, offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """One level's raw map (6, h, w) → rows ``cx, cy, side, angle_deg, score`` in input-image pixels.

    ``offset`` is the tile's (y, x) in level pixels; ``scale`` the level's scale.
    """
    raw = np.asarray(raw, np.float32)
    if raw.ndim != 3 or raw.shape[0] != CHANNELS:
        raise ConfigError(f"proposal map must be ({CHANNELS}, H, W), got {raw.shape}")
    score = _sigmoid(raw[0])
    ys, xs = np.nonzero(score >= threshold)
    if ys.size == 0:
        return np.zeros((0, 5), np.float32)
    t = raw[:, ys, xs]
    cx = (xs * STRIDE + STRIDE / 2.0 + t[1] * UNIT + offset[1]) / scale
    cy = (ys * STRIDE + STRIDE / 2.0 + t[2] * UNIT + offset[0]) / scale
    side = UNIT * np.exp(np.clip(t[3], -3, 3)) / scale
    angle = np.degrees(np.arctan2(t[5], t[4]))
    return np.stack([cx, cy, side, angle, score[ys, xs]], 1).astype(np.float32)


def square_boxes(rows: np.ndarray) -> np.ndarray:
    """Rows ``cx, cy, side, ...`` → axis-aligned squares (N, 4) for NMS."""
    half = rows[:, 2:3] / 2.0
    return np.concatenate([rows[:, :2] - half, rows[:, :2] + half], 1)


def rotation(angle_deg: float) -> np.ndarray:
    """The 2x2 matrix turning a vector of the upright face's frame into image axes (y down)."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return np.array([[c, s], [-s, c]], np.float64)


def face_quad(cx: float, cy: float, side: float, angle_deg: float, height: float | None = None) -> np.ndarray:
    """The face rectangle's vertices (``side`` wide, ``height`` tall, default square), turned by
    ``angle_deg``: the upright face's top-left, top-right, bottom-right, bottom-left."""
    h = side if height is None else height
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * (side / 2.0, h / 2.0)
    return (corners @ rotation(angle_deg).T + (cx, cy)).astype(np.float32)


#: Consensus: detections at least ``CONSENSUS_SCORE`` sure vote for the image's orientation; a face
#: more than ``CONSENSUS_SPREAD`` degrees off the others' vote, when that vote outweighs its own
#: score, has its score multiplied by ``CONSENSUS_PENALTY``.
CONSENSUS_SCORE = 0.8
CONSENSUS_SPREAD = 60.0
CONSENSUS_PENALTY = 0.5


def consensus_factors(angles: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Score factors (N,) from the orientation the *other* confident faces of the image agree on.

    A turned camera turns every face alike: a detection whose angle is more than
    :data:`CONSENSUS_SPREAD` degrees from the score-weighted mean direction of the other confident
    detections is penalised when their vote (the length of that weighted sum) is larger than its
    own score — most false positives of an any-angle search stand at odd angles, and a real face
    outvotes them.  A lone face is left alone.
    """
    a = np.radians(np.asarray(angles, np.float64))
    s = np.asarray(scores, np.float64)
    w = np.where(s >= CONSENSUS_SCORE, s, 0.0)
    vec = np.stack([np.cos(a), np.sin(a)], 1) * w[:, None]
    others = vec.sum(0)[None] - vec  # each detection's vote excludes its own
    strength = np.linalg.norm(others, axis=1)
    off = np.degrees(np.abs(np.angle(np.exp(1j * (a - np.arctan2(others[:, 1], others[:, 0]))))))
    outvoted = (strength >= CONSENSUS_SCORE) & (strength > s) & (off > CONSENSUS_SPREAD)
    return np.where(outvoted, CONSENSUS_PENALTY, 1.0)


def turn_nms(rows: np.ndarray, iou: float) -> np.ndarray:
    """NMS of rows ``cx, cy, side, angle, score`` within each quarter turn of ``angle``: R-Net says
    little about which way up a face is, so hypotheses of one face at different turns all go on
    (O-Net's landmarks decide between them); indices of the kept rows, best first."""
    turn = np.round(np.asarray(rows[:, 3], np.float64) / 90.0).astype(int) % 4
    keep = [np.zeros(0, int)]
    for t in range(4):
        idx = np.nonzero(turn == t)[0]
        if len(idx):
            keep.append(idx[nms(square_boxes(rows[idx]), rows[idx, 4], iou)])
    kept = np.concatenate(keep)
    return kept[np.argsort(-rows[kept, 4], kind="stable")]


class Pyramid:
    """The input image and its downscaled copies, made on demand from the nearest larger one."""

    def __init__(self, image: np.ndarray) -> None:
        self.levels: dict[float, np.ndarray] = {1.0: image}

    def at(self, scale: float) -> np.ndarray:
        if scale in self.levels:
            return self.levels[scale]
        larger = [s for s in self.levels if s > scale]
        src = self.levels[min(larger)] if larger else self.levels[1.0]
        h, w = self.levels[1.0].shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        # Faces under LEVEL_FACE px (min_face < 14) are looked for on an enlarged copy.
        self.levels[scale] = cv2.resize(
            src, size, interpolation=cv2.INTER_AREA if larger else cv2.INTER_LINEAR
        )
        return self.levels[scale]

    def crop(self, cx: float, cy: float, side: float, angle: float, out: int) -> np.ndarray:
        """A square crop of ``side`` px about (cx, cy), turned by ``-angle``, resized to ``out`` px."""
        scale = 1.0
        while side * scale * 0.5 >= out * 1.1:  # halve while the crop would still be >= out px
            scale *= 0.5
        img = self.at(scale)
        k = out / (side * scale)
        r = rotation(angle) / k  # crop axis → level pixels
        centre = np.array([cx, cy]) * scale - r @ np.array([out / 2.0, out / 2.0])
        m = np.concatenate([r, centre[:, None]], 1)
        return cv2.warpAffine(
            img, m, (out, out), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT
        )


__all__ = [
    "CHANNELS",
    "LEVEL_FACE",
    "PYRAMID_FACTOR",
    "STRIDE",
    "TILE",
    "TILE_OVERLAP",
    "UNIT",
    "Pyramid",
    "consensus_factors",
    "decode_proposals",
    "face_quad",
    "level_scales",
    "rotation",
    "square_boxes",
    "tiles",
    "turn_nms",
]
