"""Mode C of seed 000 §4: a SORT-style IoU tracker and each track's sharpest face.

:class:`IoUTracker` (Kalman prediction, Hungarian IoU assignment, birth after ``min_hits``, death
after ``max_age`` misses); :class:`TrackedFaceSelector` keeps each track's sharpest face through
:class:`~biogate.select.TrackSelector`. The Hungarian solver is written here so the device needs
no SciPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence, Tuple

import numpy as np

from ...errors import ConfigError
from ...frame import Frame
from ...select import ScoredFrame, TrackSelector

Box = Tuple[float, float, float, float]


def _boxes(boxes: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if len(boxes) else np.zeros((0, 4))
    if not np.isfinite(arr).all() or (arr[:, 2:] <= 0).any():
        raise ConfigError("boxes must be finite (x, y, w, h) with positive width and height")
    return arr


def iou_matrix(a: Sequence[Box] | np.ndarray, b: Sequence[Box] | np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` with every box of ``b``: ``(len(a), len(b))``."""
    a, b = _boxes(a), _boxes(b)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return inter / union


def linear_assignment(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one assignment of rows to columns (Hungarian method, O(n²m)).

    Rectangular matrices assign ``min(rows, cols)`` pairs.  Shortest augmenting paths with
    row/column potentials, one row at a time.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or not np.isfinite(cost).all():
        raise ConfigError("assignment cost must be a finite 2-D matrix")
    if cost.shape[0] > cost.shape[1]:
        return [(r, c) for c, r in linear_assignment(cost.T)]
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: 1-based row matched to column j (0 = free)
    way = np.zeros(m + 1, dtype=np.int64)
    for row in range(1, n + 1):
        owner[0] = row
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while owner[j0] != 0:  # grow the alternating tree until a free column is reached
            used[j0] = True
            i0 = owner[j0]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            free = ~used[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
        while j0:  # flip the augmenting path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    return sorted((int(owner[j]) - 1, j - 1) for j in range(1, m + 1) if owner[j])


class _KalmanBox:
    """Constant-velocity Kalman filter on (cx, cy, area, aspect): SORT's state model and noise
    scales (Bewley et al., "Simple Online and Realtime Tracking", ICIP 2016)."""

    def __init__(self, box: np.ndarray) -> None:
        self.F = np.eye(7)
        self.F[0, 4] = self.F[1, 5] = self.F[2, 6] = 1.0
        self.H = np.eye(4, 7)
        self.R = np.diag([1.0, 1.0, 10.0, 10.0])
        self.Q = np.diag([1.0, 1.0, 1.0, 1.0, 0.01, 0.01, 1e-4])
        self.P = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])
        self.x = np.r_[self._z(box), 0.0, 0.0, 0.0]

    @staticmethod
    def _z(box: np.ndarray) -> np.ndarray:
        x, y, w, h = box
        return np.array([x + w / 2, y + h / 2, w * h, w / h])

    def box(self) -> np.ndarray:
        cx, cy, s, r = self.x[:4]
        w = np.sqrt(max(s * r, 1e-6))
        h = max(s, 1e-6) / w
        return np.array([cx - w / 2, cy - h / 2, w, h])

    def predict(self) -> np.ndarray:
        if self.x[2] + self.x[6] <= 0:  # the area must not shrink through zero
            self.x[6] = 0.0
        self.x = self.F @ self.x
        self.P = self.F @ self.P @ self.F.T + self.Q
        return self.box()

    def update(self, box: np.ndarray) -> None:
        residual = self._z(box) - self.H @ self.x
        s = self.H @ self.P @ self.H.T + self.R
        gain = self.P @ self.H.T @ np.linalg.inv(s)
        self.x = self.x + gain @ residual
        self.P = (np.eye(7) - gain @ self.H) @ self.P


@dataclass
class Track:
    """One followed face.  ``det_index`` is the detection it matched this frame (or ``None``)."""

    track_id: int
    box: np.ndarray
    score: float = 0.0
    hits: int = 1
    hit_streak: int = 1
    age: int = 0
    time_since_update: int = 0
    det_index: int | None = None
    confirmed: bool = False
    _kalman: _KalmanBox | None = field(default=None, repr=False)


class IoUTracker:
    """SORT-style multi-face tracker over per-frame detections.

    Args:
        iou_threshold: a detection continues a track only when their IoU reaches this.
        min_hits: consecutive matched frames before a track is confirmed (birth).
        max_age: missed frames after which a track dies.
        kalman: predict each track's box with a constant-velocity Kalman filter (SORT); without
            it a track is expected where it was last seen (a plain IoU tracker, fine at high
            frame rates and slow movement).
    """

    def __init__(
        self, iou_threshold: float = 0.3, min_hits: int = 3, max_age: int = 5, kalman: bool = True
    ) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ConfigError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if min_hits < 1 or max_age < 0:
            raise ConfigError(f"need min_hits >= 1 and max_age >= 0, got {min_hits} and {max_age}")
        self.iou_threshold, self.min_hits, self.max_age, self.kalman = (
            iou_threshold,
            min_hits,
            max_age,
            kalman,
        )
        self.tracks: list[Track] = []
        self.dead: list[Track] = []  # tracks that died during the last update
        self._next_id = 1

    def reset(self) -> None:
        """Forget every track (after a pause in the scene); new tracks keep counting ids upward."""
        self.tracks, self.dead = [], []

    def update(self, boxes: Sequence[Box] | np.ndarray, scores: Sequence[float] | None = None) -> list[Track]:
        """Feed one frame's detections; returns the confirmed tracks matched in this frame."""
        dets = _boxes(boxes)
        scores = np.ones(len(dets)) if scores is None else np.asarray(scores, dtype=np.float64)
        if len(scores) != len(dets):
            raise ConfigError(f"{len(dets)} boxes but {len(scores)} scores")
        for track in self.tracks:
            track.age += 1
            track.det_index = None
            if track._kalman is not None:
                track.box = track._kalman.predict()
        pairs: list[tuple[int, int]] = []
        if self.tracks and len(dets):
            iou = iou_matrix(np.array([t.box for t in self.tracks]), dets)
            pairs = [(t, d) for t, d in linear_assignment(-iou) if iou[t, d] >= self.iou_threshold]
        matched_dets = set()
        for t, d in pairs:
            track = self.tracks[t]
            if track._kalman is not None:
                track._kalman.update(dets[d])
            track.box, track.score, track.det_index = dets[d].copy(), float(scores[d]), d
            track.hits += 1
            track.hit_streak = track.hit_streak + 1 if track.time_since_update == 0 else 1
            track.time_since_update = 0
            track.confirmed = track.confirmed or track.hit_streak >= self.min_hits
            matched_dets.add(d)
        for track in (t for t in self.tracks if t.det_index is None):
            track.time_since_update += 1
        self.dead = [t for t in self.tracks if t.time_since_update > self.max_age]
        self.tracks = [t for t in self.tracks if t.time_since_update <= self.max_age]
        for d in range(len(dets)):  # birth: every unmatched detection starts a tentative track
            if d not in matched_dets:
                track = Track(self._next_id, dets[d].copy(), float(scores[d]), det_index=d)
                track.confirmed = self.min_hits <= 1
                track._kalman = _KalmanBox(dets[d]) if self.kalman else None
                self.tracks.append(track)
                self._next_id += 1
        return [t for t in self.tracks if t.confirmed and t.time_since_update == 0]


def _roi(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The integer box clipped to the image, or ``None`` when nothing of it is inside."""
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(width, int(np.ceil(box[0] + box[2]))), min(height, int(np.ceil(box[1] + box[3])))
    return (x0, y0, x1 - x0, y1 - y0) if x1 - x0 >= 3 and y1 - y0 >= 3 else None


class TrackedFaceSelector:
    """Mode C: track faces through a clip and keep each track's sharpest face.

    :meth:`push` takes a frame and its detections and returns the tracks that just ended with
    their sharpest face (identify each person once, as they leave); :meth:`best` gives a live
    track's sharpest so far.  "Sharpest" covers the track's last ``window_s`` seconds (``None``:
    the whole track, holding all its frames in memory).
    """

    def __init__(
        self,
        tracker: IoUTracker | None = None,
        metric: str = "laplacian",
        window_s: float | None = 2.0,
        ttl_s: float = 60.0,
    ) -> None:
        self.tracker = tracker or IoUTracker()
        # The tracker decides when a track ends; the selector keeps a track's faces for ttl_s
        # after its last push (long enough to outlive max_age missed frames), then frees them.
        # Each track holds the frames of its last window_s seconds: memory stays bounded.
        self.selector = TrackSelector(metric=metric, every=1, window_s=window_s, top_k=1, ttl_s=ttl_s)

    def push(
        self, frame: Frame, boxes: Sequence[Box] | np.ndarray, scores: Sequence[float] | None = None
    ) -> list[tuple[int, ScoredFrame]]:
        """Track one frame; returns ``(track_id, sharpest face)`` of every track that ended."""
        for track in self.tracker.update(boxes, scores):
            roi = _roi(track.box, frame.width, frame.height)
            if roi is not None:
                self.selector.push(track.track_id, frame, roi)
        ended = []
        for track in self.tracker.dead:
            best = self.selector.best(track.track_id)
            if best is not None:
                ended.append((track.track_id, best))
        return ended

    def best(self, track_id: int) -> ScoredFrame | None:
        """The sharpest face of a live track so far."""
        return self.selector.best(track_id)

    def active(self) -> list[int]:
        """Ids of the confirmed, live tracks."""
        return [t.track_id for t in self.tracker.tracks if t.confirmed]
