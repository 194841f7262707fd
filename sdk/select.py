"""Keep the sharpest frames of a stream (seed 000, S102-2 … S102-6).

:class:`FrameSelector` samples frames at a frame interval, scores them with a native
sharpness kernel and keeps a capture-time window, returning the top-k.  The seed's
three uses map onto it:

* single-frame mode — :meth:`FrameSelector.select` over a short clip;
* windowed mode — :meth:`FrameSelector.push` on a live stream, :meth:`FrameSelector.best` at decision time;
* per-track mode — :class:`TrackSelector`, one window per tracked face, scoring only the face box.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Hashable, Iterable

from .errors import ConfigError
from .frame import Frame
from .sharpness import METRICS, Roi, frame_sharpness

MAX_STEP = 1 << 16  # the native kernels' limit on grid decimation


def check_roi(roi: Roi, frame: Frame | None = None) -> None:
    """ConfigError unless ``roi`` is ``(x, y, w, h)`` with x, y >= 0, w, h >= 1 (inside ``frame``)."""
    if len(roi) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in roi):
        raise ConfigError(f"roi must be four integers (x, y, w, h), got {roi!r}")
    x, y, w, h = roi
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise ConfigError(f"roi (x, y, w, h) needs x, y >= 0 and w, h >= 1, got {tuple(roi)}")
    if frame is not None and (x + w > frame.width or y + h > frame.height):
        raise ConfigError(
            f"roi {tuple(roi)} does not fit inside the {frame.width}x{frame.height} frame"
            + (f" of {frame.source}" if frame.source else "")
        )


@dataclass(frozen=True)
class ScoredFrame:
    """A sampled frame with its sharpness score and the region that was scored."""

    frame: Frame
    score: float
    metric: str
    roi: Roi | None = None
    index: int = 0  # position among the frames offered to the selector (0-based)


class FrameSelector:
    """Sample every ``every``-th frame, score it, and keep the top-``top_k`` of a time window.

    Args:
        metric: ``laplacian`` (default), ``brenner`` or ``tenengrad``.
        every: frame interval; 3 keeps frames 0, 3, 6, ... of those offered (seed default).
        window_s: capture-time window in seconds (seed default 2 s); ``None`` keeps all.
        top_k: how many frames :meth:`best` returns.
        roi: default region ``(x, y, w, h)`` to score (a face box), or ``None`` for the whole frame.
        step: decimation of the scored grid (faster, coarser).
        min_score: frames scoring below it are never returned (too blurred to use).
    """

    def __init__(
        self,
        metric: str = "laplacian",
        every: int = 3,
        window_s: float | None = 2.0,
        top_k: int = 1,
        roi: Roi | None = None,
        step: int = 1,
        min_score: float = 0.0,
    ) -> None:
        if metric not in METRICS:
            raise ConfigError(f"unknown sharpness metric {metric!r}; valid: {', '.join(METRICS)}")
        if every < 1:
            raise ConfigError(f"every must be >= 1, got {every}")
        if top_k < 1:
            raise ConfigError(f"top_k must be >= 1, got {top_k}")
        if window_s is not None and not window_s > 0:  # also refuses nan
            raise ConfigError(f"window_s must be positive or None, got {window_s}")
        if not 1 <= step <= MAX_STEP:
            raise ConfigError(f"step must be an integer in [1, {MAX_STEP}], got {step}")
        if roi is not None:
            check_roi(roi)
        self.metric = metric
        self.every = every
        self.window_ns = None if window_s is None else int(window_s * 1e9)
        self.top_k = top_k
        self.roi = roi
        self.step = step
        self.min_score = min_score
        self._offered = 0
        self._window: deque[ScoredFrame] = deque()

    def push(self, frame: Frame, roi: Roi | None = None) -> ScoredFrame | None:
        """Offer a frame; returns its :class:`ScoredFrame` when sampled, else ``None``."""
        index = self._offered
        self._offered += 1
        if index % self.every:
            return None
        region = roi if roi is not None else self.roi
        if region is not None:
            check_roi(region, frame)
        scored = ScoredFrame(
            frame, frame_sharpness(frame, self.metric, region, self.step), self.metric, region, index
        )
        self._window.append(scored)
        self._expire(frame.t_capture)
        return scored

    def _expire(self, newest_ns: int) -> None:
        if self.window_ns is None:
            return
        while self._window and newest_ns - self._window[0].frame.t_capture > self.window_ns:
            self._window.popleft()

    def best(self, k: int | None = None) -> list[ScoredFrame]:
        """The top-``k`` (default ``top_k``) frames of the window, sharpest first; ties go to the newer."""
        usable = [s for s in self._window if s.score >= self.min_score]
        usable.sort(key=lambda s: (s.score, s.frame.t_capture), reverse=True)
        return usable[: k or self.top_k]

    def scored(self) -> list[ScoredFrame]:
        """Every sampled frame still in the window, oldest first."""
        return list(self._window)

    def reset(self) -> None:
        """Forget the window and restart the sampling count."""
        self._offered = 0
        self._window.clear()

    def select(self, frames: Iterable[Frame]) -> list[ScoredFrame]:
        """Single-frame/clip mode: consume ``frames`` and return the top-k of the last window."""
        self.reset()
        for frame in frames:
            self.push(frame)
        return self.best()


class TrackSelector:
    """Per-track mode: the sharpest face per person, scoring only each track's face box.

    Each track id gets its own :class:`FrameSelector` (``every=1`` by default, since a
    tracker already runs on sampled frames).  Tracks unseen for ``ttl_s`` are dropped.
    """

    def __init__(
        self,
        metric: str = "laplacian",
        every: int = 1,
        window_s: float | None = 2.0,
        top_k: int = 1,
        step: int = 1,
        ttl_s: float = 5.0,
    ) -> None:
        self._options = dict(metric=metric, every=every, window_s=window_s, top_k=top_k, step=step)
        FrameSelector(**self._options)  # validate options now, not on the first frame
        self.ttl_ns = int(ttl_s * 1e9)
        self._tracks: dict[Hashable, FrameSelector] = {}
        self._last_seen: dict[Hashable, int] = {}

    def push(self, track_id: Hashable, frame: Frame, box: Roi) -> ScoredFrame | None:
        """Offer the face box ``box`` of track ``track_id`` on ``frame``."""
        selector = self._tracks.get(track_id)
        if selector is None:
            selector = self._tracks[track_id] = FrameSelector(**self._options)
        self._last_seen[track_id] = frame.t_capture
        scored = selector.push(frame, roi=box)
        self._drop_stale(frame.t_capture)
        return scored

    def _drop_stale(self, now_ns: int) -> None:
        for track_id in [t for t, seen in self._last_seen.items() if now_ns - seen > self.ttl_ns]:
            del self._tracks[track_id], self._last_seen[track_id]

    def best(self, track_id: Hashable) -> ScoredFrame | None:
        """The sharpest face of a track, or ``None`` if the track is unknown or empty."""
        selector = self._tracks.get(track_id)
        top = selector.best(1) if selector else []
        return top[0] if top else None

    def tracks(self) -> list[Hashable]:
        """Ids of the live tracks."""
        return list(self._tracks)
