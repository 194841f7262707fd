"""Latency histograms over a sliding window of recent samples."""

from __future__ import annotations

import threading

import numpy as np


class LatencyWindow:
    """The last ``capacity`` samples of a latency (ms), with lifetime count and max.

    Percentiles over a recent window (rather than since start) show whether latency grows
    during a long run, which is what a soak test must catch.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._buf = np.zeros(capacity, dtype=np.float64)
        self._n = 0
        self._lock = threading.Lock()
        self.max_ms = 0.0

    def add(self, ms: float) -> None:
        with self._lock:
            self._buf[self._n % self._buf.size] = ms
            self._n += 1
            self.max_ms = max(self.max_ms, ms)

    @property
    def count(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        """The samples in the window (unordered)."""
        with self._lock:
            return self._buf[: min(self._n, self._buf.size)].copy()

    def summary(self) -> dict[str, float]:
        """``count``, ``p50_ms``, ``p99_ms``, ``mean_ms``, ``max_ms`` (window percentiles)."""
        values = self.values()
        if values.size == 0:
            return {
                "count": 0,
                "p50_ms": float("nan"),
                "p99_ms": float("nan"),
                "mean_ms": float("nan"),
                "max_ms": float("nan"),
            }
        return {
            "count": self._n,
            "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)),
            "mean_ms": float(values.mean()),
            "max_ms": self.max_ms,
        }
