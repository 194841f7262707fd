"""Mode A of seed 000 §4: every face, skipping people already identified.

:class:`IdentifiedCache` knows people by track id and by embedding; :class:`FrameIdentifier`
runs embed → cache → gallery for each face of a frame.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ...errors import ConfigError
from ...frame import Frame
from .groups import _unit_rows
from .iou import Box, _boxes


@dataclass
class Identified:
    """A person the cache already knows."""

    identity_id: str
    score: float
    t_ns: int
    embedding: np.ndarray | None = None


class IdentifiedCache:
    """Mode A's "already identified?" memory, by track id and by embedding, with expiry.

    Args:
        threshold: cosine similarity at which an embedding counts as a cached person — at least
            the gallery's own threshold for this embedder (0.92 for ``face_embed_dlib``), since
            a cache hit skips the gallery.
        ttl_s: entries older than this (capture time) are forgotten.
        max_entries: least recently seen entries go first beyond this.
    """

    def __init__(self, threshold: float, ttl_s: float = 30.0, max_entries: int = 256) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ConfigError(f"need max_entries >= 1 and ttl_s > 0, got {max_entries} and {ttl_s}")
        self.threshold, self.ttl_ns, self.max_entries = threshold, int(ttl_s * 1e9), max_entries
        self._by_track: dict[int, Identified] = {}
        self._people: OrderedDict = OrderedDict()  # identity_id -> Identified, oldest first

    def _expire(self, now_ns: int) -> None:
        for key in [k for k, e in self._people.items() if now_ns - e.t_ns > self.ttl_ns]:
            del self._people[key]
        for key in [k for k, e in self._by_track.items() if now_ns - e.t_ns > self.ttl_ns]:
            del self._by_track[key]

    def lookup(self, now_ns: int, track_id: int | None = None, embedding: np.ndarray | None = None):
        """The cached :class:`Identified` for a track or an embedding, or ``None``."""
        self._expire(now_ns)
        if track_id is not None and track_id in self._by_track:
            return self._by_track[track_id]
        if embedding is None or not self._people:
            return None
        probe = _unit_rows(np.asarray(embedding)[None])[0]
        known = [e for e in self._people.values() if e.embedding is not None]
        sims = [float(probe @ e.embedding) for e in known]
        best = int(np.argmax(sims)) if sims else -1
        return known[best] if best >= 0 and sims[best] >= self.threshold else None

    def remember(
        self,
        identity_id: str,
        score: float,
        now_ns: int,
        track_id: int | None = None,
        embedding: np.ndarray | None = None,
    ) -> Identified:
        """Record an identification (refreshes the person's time and embedding)."""
        unit = None if embedding is None else _unit_rows(np.asarray(embedding)[None])[0]
        entry = Identified(identity_id, float(score), now_ns, unit)
        self._people.pop(identity_id, None)
        self._people[identity_id] = entry
        while len(self._people) > self.max_entries:
            self._people.popitem(last=False)
        if track_id is not None:
            self._by_track[track_id] = entry
        return entry


@dataclass
class FaceResult:
    """Mode A's answer for one detected face: who, how sure, and where the answer came from."""

    box: np.ndarray
    identity_id: str | None
    score: float
    source: str  # "track-cache", "embedding-cache", "gallery" or "unknown"
    track_id: int | None = None


class FrameIdentifier:
    """Mode A: identify every face of a frame, running the gallery only for new people.

    Args:
        embed: ``embed(frame, box) -> embedding`` (detect-align-embed of one face).
        search: ``search(embedding) -> (identity_id, score)`` or ``None`` below threshold.
        cache: the :class:`IdentifiedCache` (one per camera; its threshold is the embedder's).
        search_many: optional ``search_many(embeddings) -> [(identity_id, score) | None, ...]``;
            when given, the new faces of a frame go to the gallery in one batch.

    :meth:`for_gallery` wires both searches to a :class:`biogate.gallery.Gallery`.
    """

    def __init__(
        self,
        embed: Callable[[Frame, np.ndarray], np.ndarray],
        search: Callable[[np.ndarray], tuple[str, float] | None],
        cache: IdentifiedCache,
        search_many: Callable[[np.ndarray], Sequence[tuple[str, float] | None]] | None = None,
    ) -> None:
        self.embed, self.search, self.search_many = embed, search, search_many
        self.cache = cache
        self.gallery_queries = 0

    @classmethod
    def for_gallery(
        cls,
        embed: Callable[[Frame, np.ndarray], np.ndarray],
        gallery: Any,
        cache: IdentifiedCache | None = None,
    ) -> FrameIdentifier:
        """Mode A against a gallery; its threshold decides who is known and, by default, the cache's."""
        if cache is None:
            if gallery.threshold is None:
                raise ConfigError(
                    "mode A needs a threshold: open the gallery with threshold= or pass a cache"
                )
            cache = IdentifiedCache(gallery.threshold)

        def best(matches: Any) -> tuple[str, float] | None:
            return (matches[0].identity_id, matches[0].score) if matches else None

        return cls(
            embed,
            lambda e: best(gallery.search(e, k=1)),
            cache,
            lambda many: [best(m) for m in gallery.search_many(many, k=1)],
        )

    def process(
        self, frame: Frame, boxes: Sequence[Box] | np.ndarray, track_ids: Sequence[int] | None = None
    ) -> list[FaceResult]:
        """One result per box; a track already identified costs neither embedding nor search."""
        dets = _boxes(boxes)
        ids: Sequence[int | None] = [None] * len(dets) if track_ids is None else list(track_ids)
        if len(ids) != len(dets):
            raise ConfigError(f"{len(dets)} boxes but {len(ids)} track ids")
        now = frame.t_capture
        results: list[FaceResult | None] = [None] * len(dets)
        pending = []  # faces nobody remembers: (index, embedding), searched together below
        for i, (box, track_id) in enumerate(zip(dets, ids)):
            hit = self.cache.lookup(now, track_id=track_id) if track_id is not None else None
            if hit is not None:
                results[i] = FaceResult(box, hit.identity_id, hit.score, "track-cache", track_id)
                continue
            embedding = self.embed(frame, box)
            hit = self.cache.lookup(now, embedding=embedding)
            if hit is None:
                pending.append((i, embedding))
                continue
            self.cache.remember(hit.identity_id, hit.score, now, track_id, embedding)
            results[i] = FaceResult(box, hit.identity_id, hit.score, "embedding-cache", track_id)
        if pending:
            self.gallery_queries += len(pending)
            embeddings = np.stack([np.asarray(e, np.float32) for _, e in pending])
            many = self.search_many or (lambda batch: [self.search(e) for e in batch])
            found_all = list(many(embeddings))
            for (i, embedding), found in zip(pending, found_all):
                if found is None:  # strangers are not cached: the next frame asks again
                    results[i] = FaceResult(dets[i], None, 0.0, "unknown", ids[i])
                    continue
                identity_id, score = found
                self.cache.remember(identity_id, score, now, ids[i], embedding)
                results[i] = FaceResult(dets[i], identity_id, score, "gallery", ids[i])
        return [r for r in results if r is not None]
