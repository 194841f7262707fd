"""Whether ONNX Runtime's ``MatMulInteger`` is exact on this CPU, and the exact scorers used if not.

On x86 CPUs with AVX2 but without VNNI, ONNX Runtime's u8 × s8 kernels add pairs of products in
int16 with saturation (``VPMADDUBSW``): with full-range int8 templates a quarter of the gallery's
int8 dot products came out wrong on such a 2-core build machine (December 2026), and wrong
approximate scores break the error bound the exact re-ranking relies on — the index could return a
wrong identity and call it exact.  So the kernel is checked once per process on a worst-case probe
(every product 127 × 127); where it is not exact the index scores with the float32 scorers below,
which are exact (|sum| ≤ 128 · 127 · D < 2^24 for D ≤ 1032; float64 above) and slower.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_lock = threading.Lock()
_exact: bool | None = None
#: float32 sums of int8 products are exact up to this many dimensions.
FLOAT32_EXACT_DIM = 1032


def _dtype(dim: int) -> type:
    return np.float32 if dim <= FLOAT32_EXACT_DIM else np.float64


def kernel_is_exact() -> bool:
    """True when ONNX Runtime's MatMulInteger gives exact int32 results here (checked once)."""
    global _exact
    with _lock:
        if _exact is None:
            from .index import _session
            from .score_graph import tail_scores_model

            rng = np.random.default_rng(0)
            a = np.full((8, 64), 255, np.uint8)  # code 127 after the zero point
            a[4:] = rng.integers(0, 256, (4, 64), dtype=np.uint8)
            b = np.full((64, 5), 127, np.int8)
            b[:, 3:] = rng.integers(-127, 128, (64, 2), dtype=np.int8)
            want = (a.astype(np.int64) - 128) @ b.astype(np.int64)
            got = _session(tail_scores_model()).run(None, {"A": a, "B": b})[0]
            _exact = bool(np.array_equal(np.asarray(got, np.int64), want))
        return _exact


class ExactTail:
    """The tail graph's ``Y = (A - 128) @ B`` in floating point (same ``run`` call as a session)."""

    def run(self, _names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        a, b = feed["A"], feed["B"]
        t = _dtype(a.shape[1])
        return [(a.astype(t) - 128) @ b.astype(t)]


class ExactSegment:
    """A frozen segment's ``Y = (A - 128) @ W`` in floating point; ``W`` the int8 ``(dim, rows)`` block,
    converted once when the segment freezes (not on every search)."""

    def __init__(self, weights_t: np.ndarray) -> None:
        self.weights = np.ascontiguousarray(weights_t, _dtype(weights_t.shape[0]))

    def run(self, _names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [(feed["A"].astype(self.weights.dtype) - 128) @ self.weights]


__all__ = ["ExactSegment", "ExactTail", "kernel_is_exact"]
