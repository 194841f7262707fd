"""The in-memory 1:N index: exact cosine top-k over normalised templates, fast at a million.

A float32 scan of 1 000 000 × 128 templates reads 512 MB per query and is bound by memory
bandwidth (≈40 ms on one server core).  Large galleries are therefore scanned twice:

1. an **int8 pass**: every template is also kept as int8 with its own scale (128 B a row,
   4× less traffic), scored against the int8 query by ONNX Runtime's ``MatMulInteger``
   (u8 × s8 kernels with AVX2/AVX-512-VNNI on x86 and NEON dot products on ARM);
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

import base64
import threading
from typing import NamedTuple, Sequence

import numpy as np

from ..errors import ConfigError, GalleryError

# MatMulInteger(A: uint8 [N, D], B: int8 [D, 1]) -> int32 [N, 1]; opset 10, IR 7, no weights.
# Rebuilt with onnx.helper and compared byte for byte in tests/face/test_gallery_index.py.
_SCORE_MODEL = base64.b64decode(
    "CAcSB2Jpb2dhdGU6dQoYCgFBCgFCEgFZIg1NYXRNdWxJbnRlZ2VyEhZiaW9nYXRlX2dhbGxlcnlfc2NvcmVzWhUKAUESEAoOCAIS"
    "CgoDEgFOCgMSAURaFAoBQhIPCg0IAxIJCgMSAUQKAggBYhQKAVkSDwoNCAYSCQoDEgFOCgIIAUIECgAQCg=="
)
BACKENDS = ("auto", "int8", "float32")
#: Below this many rows ``auto`` scans float32 directly: the data sits in cache and it is exact.
SMALL_GALLERY = 16384
CHUNK_ROWS = 65536  # int8 rows scored per MatMulInteger call (bounds the int32 scratch)


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
        self._session = None
        self._session_lock = threading.Lock()

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
        if len(unit) == 0:
            return
        codes, step, err, qnorm = quantise(unit)
        with self._lock:
            snap = self._snap
            n, m = snap.n, len(unit)
            if n + m > len(snap.step):
                snap = self._grow(snap, n + m)
            snap.unit[n : n + m] = unit
            snap.codes[n : n + m] = (codes.astype(np.int16) + 128).astype(np.uint8)
            snap.step[n : n + m] = step
            snap.owner[n : n + m] = owners
            del snap.tids[n:]  # rows past n belong to nobody yet
            snap.tids.extend(template_ids)
            for i, owner in enumerate(owners.tolist()):
                self._rows_of.setdefault(owner, []).append(n + i)
            most = max(len(self._rows_of[o]) for o in set(owners.tolist()))
            # Publishing a new snapshot is one reference swap: searches see all new rows or none.
            self._snap = snap._replace(
                n=n + m,
                err_max=max(snap.err_max, float(err.max())),
                norm_max=max(snap.norm_max, float(qnorm.max())),
                per_owner_max=max(snap.per_owner_max, most),
            )

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
        with self._lock:
            rows = self._rows_of.pop(owner, [])
            if not rows:
                return 0
            snap = self._snap
            dead = np.union1d(snap.dead, np.asarray(rows, np.int64))
            self._snap = snap._replace(dead=dead)
            if len(dead) * 4 >= snap.n:
                self._compact()
            return len(rows)

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
        self._snap = fresh._replace(
            n=len(keep), tids=tids, err_max=snap.err_max, norm_max=snap.norm_max, per_owner_max=most
        )

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
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        snap = self._snap
        n = snap.n
        if n - len(snap.dead) == 0:
            return SearchResult([], True, 0)
        # S rows that surely cover k live identities (dead rows may sit among them).
        s = min(n, k * max(snap.per_owner_max, 1) + len(snap.dead))
        use_int8 = self.backend == "int8" or (self.backend == "auto" and n > SMALL_GALLERY)
        if not use_int8:
            scores = snap.unit[:n] @ query_unit
            scores[snap.dead] = -np.inf
            cand = _top(scores, s)
            return SearchResult(_best_per_owner(snap, cand, scores[cand], k, threshold), True, len(cand))
        approx, bound = self._approx_scores(snap, query_unit)
        approx[snap.dead] = -np.inf
        m = float(approx[_top(approx, s)].min())
        floor = m - 2.0 * bound
        if threshold is not None:
            floor = max(floor, threshold - bound)
        floor = max(floor, float(np.finfo(np.float32).min))  # never re-admit dead (-inf) rows
        cand = np.flatnonzero(approx >= floor)
        exact = True
        if len(cand) > self.max_shortlist:
            cand = cand[_top(approx[cand], self.max_shortlist)]
            exact = False
        scores = snap.unit[cand] @ query_unit
        return SearchResult(_best_per_owner(snap, cand, scores, k, threshold), exact, len(cand))

    def _approx_scores(self, snap: _Snapshot, query_unit: np.ndarray) -> tuple[np.ndarray, float]:
        """int8 scores of every row and the proven bound ``b`` on their error."""
        codes, step, err, _ = quantise(query_unit[None, :])
        q8 = np.ascontiguousarray(codes.reshape(self.dim, 1))
        offset = 128 * int(q8.astype(np.int64).sum())  # undo the +128 shift of the u8 rows
        qstep = float(step[0])
        session = self._scores_session()
        n = snap.n
        out = np.empty(n, np.float32)
        for a in range(0, n, CHUNK_ROWS):
            b = min(n, a + CHUNK_ROWS)
            raw = session.run(None, {"A": snap.codes[a:b], "B": q8})[0][:, 0]
            raw -= offset
            np.multiply(raw.astype(np.float32), snap.step[a:b], out=out[a:b])
        out *= qstep
        # |x·q - x̂·q̂| <= ‖e_x‖·‖q‖ + ‖x̂‖·‖e_q‖ with ‖q‖ = 1; a little slack covers float32 rounding.
        bound = snap.err_max + snap.norm_max * float(err[0]) + 1e-5
        return out, bound

    def _scores_session(self):
        with self._session_lock:
            if self._session is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                # One search uses one core; callers parallelise across queries if they want more.
                opts.intra_op_num_threads = 1
                opts.inter_op_num_threads = 1
                self._session = ort.InferenceSession(_SCORE_MODEL, opts, providers=["CPUExecutionProvider"])
            return self._session


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
