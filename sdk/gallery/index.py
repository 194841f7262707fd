"""The in-memory 1:N index: exact cosine top-k over normalised templates, fast at a million.

A float32 scan of 1 000 000 × 128 templates reads 512 MB per query and is bound by memory
bandwidth (see benchmarks/bench_gallery.py).  Large galleries are therefore scanned twice:

1. an **int8 pass**: every template is also kept as int8 with its own scale (128 B a row,
   4× less traffic), scored against the int8 query by ONNX Runtime's ``MatMulInteger``
   (u8 × s8 kernels with AVX-512-VNNI on x86 and NEON dot products on ARM; on AVX2 CPUs without
   VNNI they saturate, which :mod:`.int8_kernel` detects once, then scoring is exact float).  Rows are
   frozen into constant blocks of :data:`SEGMENT_ROWS`, which ONNX Runtime pre-packs once for
   its GEMV kernel; the newest rows (the "tail") are scored as a plain input;
2. an **exact pass**: float32 re-ranking of a shortlist chosen with a proven error bound.

The bound makes the result exact, not approximate: with ``e_x`` and ``e_q`` the quantisation
errors of a template and of the query, ``|x·q − x̂·q̂| ≤ ‖e_x‖ + ‖x̂‖·‖e_q‖ =: b``.  Take the S
templates with the best approximate scores (S = k × the most templates any identity has, so
they cover ≥ k identities) and let m be the S-th best; every template that can be the best of
a true top-k identity scores at least ``m − 2b`` approximately, and all of those are re-ranked
in float32.  Only when that shortlist would exceed ``max_shortlist`` is it truncated, and the
result says so (``exact=False``).

Rows are appended in place (capacity doubles) and deleted by tombstones, compacted into fresh
arrays when a quarter are dead; a search works on an immutable snapshot of the arrays, so
enrolment and deletion never block or corrupt a search in flight.
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Sequence

import numpy as np

from ..errors import ConfigError, GalleryError
from .int8_kernel import ExactSegment, ExactTail, kernel_is_exact
from .score_graph import segment_scores_model, tail_scores_model

BACKENDS = ("auto", "int8", "float32")
#: Below this many rows ``auto`` scans float32 directly: the data sits in cache and it is exact.
SMALL_GALLERY = 16384
CHUNK_ROWS = 65536  # tail rows scored per MatMulInteger call (bounds the int32 scratch)
SEGMENT_ROWS = 65536  # rows per frozen, pre-packed block
SMALL_SEGMENT_ROWS = 4096  # newest rows freeze in small blocks, merged when they fill a big one


class Hit(NamedTuple):
    """One identity's best template for a query."""

    owner: int  # identity row key
    template_id: bytes  # the best template's id
    score: float  # exact cosine similarity


class SearchResult(NamedTuple):
    hits: list[Hit]
    exact: bool  # False only when the proven shortlist was truncated at max_shortlist
    shortlist: int  # templates re-ranked in float32


def normalise(vectors: np.ndarray, dim: int, what: str = "template") -> np.ndarray:
    """Check shape and values of (n, dim) or (dim,) vectors; return unit float32 rows."""
    arr = np.asarray(vectors)
    if arr.dtype.kind not in "fiu":
        raise GalleryError(f"{what} must be numeric, got dtype {arr.dtype}")
    arr = np.atleast_2d(arr.astype(np.float32, copy=False))
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise GalleryError(
            f"{what} has shape {tuple(np.shape(vectors))}; this gallery holds {dim}-d templates"
        )
    if not np.isfinite(arr).all():
        raise GalleryError(f"{what} contains NaN or infinity")
    norms = np.linalg.norm(arr, axis=1)
    if (norms < 1e-12).any():
        raise GalleryError(f"{what} is a zero vector (no direction to compare)")
    return np.ascontiguousarray(arr / norms[:, None], dtype=np.float32)


def quantise(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-row symmetric int8 quantisation: ``(codes, step, error_norm, dequantised_norm)``."""
    peak = np.abs(unit).max(axis=1)
    step = (peak / 127.0).astype(np.float32)  # dequantised value = code * step
    codes = np.rint(unit / step[:, None]).astype(np.int8)
    approx = codes.astype(np.float32) * step[:, None]
    err = np.linalg.norm(unit - approx, axis=1)
    return codes, step, err.astype(np.float32), np.linalg.norm(approx, axis=1).astype(np.float32)


class _Snapshot(NamedTuple):
    n: int
    unit: np.ndarray  # (cap, dim) float32 unit rows
    codes: np.ndarray  # (cap, dim) uint8: int8 code + 128 (MatMulInteger wants A unsigned)
    step: np.ndarray  # (cap,) float32
    owner: np.ndarray  # (cap,) int64
    tids: list[bytes]  # template id of each row (appended in place, replaced on compaction)
    dead: np.ndarray  # sorted int64 rows deleted but not yet compacted
    err_max: float
    norm_max: float
    per_owner_max: int
    segments: tuple  # ((start, end, session), ...) frozen blocks covering rows [0, frozen)
    frozen: int


class TemplateIndex:
    """Normalised templates of one dimension, searchable by cosine similarity.

    Args:
        dim: template dimension.
        backend: ``auto`` (float32 below :data:`SMALL_GALLERY` rows, int8 + exact re-rank above),
            ``int8`` or ``float32`` (plain exact scan, the reference).
        max_shortlist: cap on float32 re-ranking; beyond it results are marked inexact.
    """

    def __init__(self, dim: int, backend: str = "auto", max_shortlist: int = 8192) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown gallery index backend {backend!r}; valid: {', '.join(BACKENDS)}")
        if dim < 1:
            raise ConfigError(f"template dimension must be >= 1, got {dim}")
        self.dim = int(dim)
        self.backend = backend
        self.max_shortlist = int(max_shortlist)
        self._lock = threading.Lock()
        self._rows_of: dict[int, list[int]] = {}
        self._snap = self._empty(0)
        self._tail_session = None

    def _empty(self, cap: int) -> _Snapshot:
        return _Snapshot(
            0,
            np.zeros((cap, self.dim), np.float32),
            np.full((cap, self.dim), 128, np.uint8),
            np.zeros(cap, np.float32),
            np.zeros(cap, np.int64),
            [],
            np.zeros(0, np.int64),
            0.0,
            0.0,
            0,
            (),
            0,
        )

    # -- bookkeeping -------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Live templates."""
        snap = self._snap
        return snap.n - len(snap.dead)

    def owners(self) -> list[int]:
        with self._lock:
            return list(self._rows_of)

    def add(self, owner: int, template_ids: Sequence[bytes], unit: np.ndarray) -> None:
        """Append unit rows (already validated by :func:`normalise`) of one identity."""
        self.add_many(np.full(len(unit), owner, np.int64), template_ids, unit)

    def add_many(self, owners: np.ndarray, template_ids: Sequence[bytes], unit: np.ndarray) -> None:
        """Append rows of several identities at once (``owners[i]`` owns ``unit[i]``)."""
        self.update((), owners, template_ids, unit)

    def update(
        self,
        remove: Sequence[int] = (),
        owners: np.ndarray | None = None,
        template_ids: Sequence[bytes] = (),
        unit: np.ndarray | None = None,
    ) -> int:
        """Remove every row of the ``remove`` owners and append new rows, as ONE published change.

        A search sees the index before or after the whole update, never between its parts (a
        live gallery applies another process's transaction this way).  Returns the rows removed.
        """
        adding = unit is not None and len(unit) > 0
        if adding:
            codes, step, err, qnorm = quantise(unit)
        with self._lock:
            snap = self._snap
            gone = [row for owner in remove for row in self._rows_of.pop(owner, [])]
            if gone:
                snap = snap._replace(dead=np.union1d(snap.dead, np.asarray(gone, np.int64)))
            if adding:
                n, m = snap.n, len(unit)
                if n + m > len(snap.step):
                    snap = self._grow(snap, n + m)
                snap.unit[n : n + m] = unit
                snap.codes[n : n + m] = (codes.astype(np.int16) + 128).astype(np.uint8)
                snap.step[n : n + m] = step
                snap.owner[n : n + m] = owners
                del snap.tids[n:]  # rows past n belong to nobody yet
                snap.tids.extend(template_ids)
                for i, owner in enumerate(np.asarray(owners).tolist()):
                    self._rows_of.setdefault(owner, []).append(n + i)
                most = max(len(self._rows_of[o]) for o in set(np.asarray(owners).tolist()))
                snap = self._freeze(
                    snap._replace(
                        n=n + m,
                        err_max=max(snap.err_max, float(err.max())),
                        norm_max=max(snap.norm_max, float(qnorm.max())),
                        per_owner_max=max(snap.per_owner_max, most),
                    )
                )
            # Publishing a new snapshot is one reference swap: searches see all of it or none.
            self._snap = snap
            if gone and len(snap.dead) * 4 >= snap.n:
                self._compact()
            return len(gone)

    def _grow(self, snap: _Snapshot, need: int) -> _Snapshot:
        cap = max(need, 2 * len(snap.step), 1024)
        bigger = self._empty(cap)
        n = snap.n
        for src, dst in zip(snap[1:5], bigger[1:5]):
            dst[:n] = src[:n]
        return snap._replace(
            unit=bigger.unit,
            codes=bigger.codes,
            step=bigger.step,
            owner=bigger.owner,
            tids=list(snap.tids[:n]),
        )

    def remove(self, owner: int) -> int:
        """Tombstone every row of ``owner``; compact when a quarter of the rows are dead."""
        return self.update((owner,))

    def _compact(self) -> None:
        snap = self._snap
        keep = np.setdiff1d(np.arange(snap.n), snap.dead)
        fresh = self._empty(max(len(keep), 1024))
        for src, dst in zip(snap[1:5], fresh[1:5]):
            dst[: len(keep)] = src[keep]
        tids = [snap.tids[i] for i in keep.tolist()]
        self._rows_of = {}
        for row, owner in enumerate(fresh.owner[: len(keep)].tolist()):
            self._rows_of.setdefault(owner, []).append(row)
        most = max((len(r) for r in self._rows_of.values()), default=0)
        self._snap = self._freeze(
            fresh._replace(
                n=len(keep), tids=tids, err_max=snap.err_max, norm_max=snap.norm_max, per_owner_max=most
            )
        )

    def _freeze(self, snap: _Snapshot) -> _Snapshot:
        """Freeze tail rows into pre-packed constant segments, two sizes, like a tiny LSM tree.

        Full blocks of :data:`SEGMENT_ROWS` become one segment; the rest freezes in blocks of
        :data:`SMALL_SEGMENT_ROWS`, merged into a big one once they fill it.  The unfrozen tail
        (scored ~3× slower per row) thus stays under one small block.
        """
        if not self._int8_wanted(snap.n):
            return snap
        big, small = SEGMENT_ROWS, min(SMALL_SEGMENT_ROWS, SEGMENT_ROWS)
        segments, frozen = list(snap.segments), snap.frozen
        while True:
            trailing = 0
            while trailing < len(segments) and segments[-1 - trailing][1] - segments[-1 - trailing][0] < big:
                trailing += 1
            if trailing and trailing * small >= big:
                start = segments[-trailing][0]
                del segments[-trailing:]
                segments.append(self._segment(snap, start, start + big))
            elif not trailing and snap.n - frozen >= big:
                segments.append(self._segment(snap, frozen, frozen + big))
                frozen += big
            elif snap.n - frozen >= small:
                segments.append(self._segment(snap, frozen, frozen + small))
                frozen += small
            else:
                return snap._replace(segments=tuple(segments), frozen=frozen)

    def _segment(self, snap: _Snapshot, start: int, end: int) -> tuple:
        # uint8 code+128 XOR 0x80 is the int8 code's bit pattern; the segment wants (dim, rows).
        weights = np.ascontiguousarray((snap.codes[start:end] ^ np.uint8(0x80)).view(np.int8).T)
        if not kernel_is_exact():  # this CPU's int8 kernel saturates: exact, slower scoring
            return (start, end, ExactSegment(weights))
        return (start, end, _session(segment_scores_model(weights.tobytes(), self.dim, end - start)))

    def _int8_wanted(self, n: int) -> bool:
        return self.backend == "int8" or (self.backend == "auto" and n > SMALL_GALLERY)

    # -- scoring ---------------------------------------------------------------------------------
    def best_of(self, owner: int, query_unit: np.ndarray) -> Hit | None:
        """1:1 — the exact best cosine of ``query_unit`` over one identity's templates."""
        with self._lock:  # rows move on compaction: read them and the snapshot together
            rows = np.asarray(self._rows_of.get(owner, ()), np.int64)
            snap = self._snap
        if len(rows) == 0:
            return None
        scores = snap.unit[rows] @ query_unit
        best = int(np.argmax(scores))
        return Hit(owner, snap.tids[int(rows[best])], float(scores[best]))

    def search(self, query_unit: np.ndarray, k: int = 1, threshold: float | None = None) -> SearchResult:
        """Top-``k`` identities by their best template's cosine, optionally ``>= threshold``."""
        return self.search_many(query_unit[None, :], k, threshold)[0]

    def search_many(
        self, queries: np.ndarray, k: int = 1, threshold: float | None = None
    ) -> list[SearchResult]:
        """:meth:`search` for several unit queries ``(m, dim)`` in one pass over the gallery.

        The int8 pass reads the gallery once for all of them (a matrix product instead of m
        matrix-vector products), so a frame with several faces costs little more than one.
        """
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        snap = self._snap
        n = snap.n
        if n - len(snap.dead) == 0:
            return [SearchResult([], True, 0) for _ in range(len(queries))]
        # S rows surely cover k identities.  Dead rows score -inf, so they enter the top S only
        # when fewer than S rows live, and are dropped after re-ranking.
        s = min(n, k * max(snap.per_owner_max, 1))
        results = []
        if not self._int8_wanted(n):
            for scores in queries @ snap.unit[:n].T:
                scores[snap.dead] = -np.inf
                cand = _top(scores, s)
                results.append(
                    SearchResult(_best_per_owner(snap, cand, scores[cand], k, threshold), True, len(cand))
                )
            return results
        approx, qsteps, bounds = self._approx_scores(snap, queries)
        approx[:, snap.dead] = -np.inf
        lowest = float(np.finfo(np.float32).min)  # never re-admit dead (-inf) rows
        for query, row, qstep, bound in zip(queries, approx, qsteps.tolist(), bounds.tolist()):
            # row holds approximate cosines divided by the query's step (see _approx_scores)
            floor = lowest if threshold is None else max(lowest, (threshold - bound) / qstep)
            cand = _at_least_s_th_best(row, s, 2.0 * bound / qstep, floor)
            exact = True
            if len(cand) > self.max_shortlist:
                cand = cand[_top(row[cand], self.max_shortlist)]
                exact = False
            scores = snap.unit[cand] @ query
            results.append(SearchResult(_best_per_owner(snap, cand, scores, k, threshold), exact, len(cand)))
        return results

    def _approx_scores(
        self, snap: _Snapshot, queries: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """int8 scores of every row for every query, ``(m, n)``, and per query its step and bound ``b``.

        Scores are left divided by the query's quantisation step (approximate cosine = score ×
        step): one pass less over the ``(m, n)`` array; callers scale their thresholds instead.
        """
        codes, step, err, _ = quantise(queries)
        q_cols = np.ascontiguousarray(codes.T)  # (dim, m) int8 for the tail graph
        q_rows = (codes.astype(np.int16) + 128).astype(np.uint8)  # the segments' zero point is 128
        out = np.empty((len(queries), snap.n), np.float32)
        for a, b, session in snap.segments:
            block = out[:, a:b]
            block[...] = session.run(None, {"A": q_rows})[0]
            block *= snap.step[a:b]  # while the block is still in cache
        if snap.frozen < snap.n:
            tail = self._tail()
            for a in range(snap.frozen, snap.n, CHUNK_ROWS):
                b = min(snap.n, a + CHUNK_ROWS)
                block = out[:, a:b]
                block[...] = tail.run(None, {"A": snap.codes[a:b], "B": q_cols})[0].T
                block *= snap.step[a:b]
        # |x·q - x̂·q̂| <= ‖e_x‖·‖q‖ + ‖x̂‖·‖e_q‖ with ‖q‖ = 1; a little slack covers float32 rounding.
        bounds = snap.err_max + snap.norm_max * err.astype(np.float64) + 1e-5
        return out, step.astype(np.float64), bounds

    def _tail(self):
        if self._tail_session is None:  # a benign race: two threads may both build one
            self._tail_session = _session(tail_scores_model()) if kernel_is_exact() else ExactTail()
        return self._tail_session


def _session(model: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # One search uses one core; callers parallelise across queries if they want more.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def _at_least_s_th_best(values: np.ndarray, s: int, window: float, floor: float) -> np.ndarray:
    """Indices of values ``>= max(m - window, floor)``, ``m`` the ``s``-th largest value.

    A full ``argpartition`` of a million scores costs ~3 ms; instead the minimum of the maxima
    of ``s`` disjoint blocks (a lower bound on ``m``: those s maxima are s values >= it) picks a
    small superset in one pass, and ``m`` is found exactly inside it.
    """
    n = len(values)
    if n >= 64 * s:
        width = n // s
        low = float(values[: s * width].reshape(s, width).max(axis=1).min())
        cand = np.flatnonzero(values >= max(low - window, floor))
    else:
        cand = np.flatnonzero(values >= floor)
    if len(cand) > s:  # else every candidate above the floor is in already
        m = float(values[cand[_top(values[cand], s)]].min())
        cand = cand[values[cand] >= max(m - window, floor)]
    return cand


def _top(values: np.ndarray, s: int) -> np.ndarray:
    """Indices of the ``s`` largest values (unordered)."""
    if s >= len(values):
        return np.arange(len(values))
    return np.argpartition(values, len(values) - s)[len(values) - s :]


def _best_per_owner(
    snap: _Snapshot, rows: np.ndarray, scores: np.ndarray, k: int, threshold: float | None
) -> list[Hit]:
    keep = np.isfinite(scores)
    if threshold is not None:
        keep &= scores >= threshold
    rows, scores = rows[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    hits: list[Hit] = []
    seen = set()
    for i in order.tolist():
        owner = int(snap.owner[rows[i]])
        if owner in seen:
            continue
        seen.add(owner)
        hits.append(Hit(owner, snap.tids[int(rows[i])], float(scores[i])))
        if len(hits) == k:
            break
    return hits
