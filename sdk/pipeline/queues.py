"""A bounded queue that keeps the newest items: a stale frame is worth nothing at a gate."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestQueue(Generic[T]):
    """Thread-safe queue of at most ``maxsize`` items; ``put`` never blocks.

    When full, ``put`` drops the *oldest* item and counts it in :attr:`dropped`: back-pressure
    drops stale work instead of queueing it, so latency cannot grow without bound.
    ``get`` returns ``None`` on timeout, or once the queue is closed and empty.
    """

    def __init__(self, maxsize: int = 1, name: str = "") -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.name = name
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.put_count = 0

    def put(self, item: T) -> bool:
        """Add ``item``; returns False when an older item had to be dropped (or the queue is closed)."""
        with self._cond:
            if self._closed:
                return False
            kept_all = True
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
                kept_all = False
            self._items.append(item)
            self.put_count += 1
            self._cond.notify()
            return kept_all

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest kept item, waiting up to ``timeout`` seconds (forever if ``None``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items:
                if self._closed:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._items.popleft()

    def close(self) -> None:
        """Refuse new items and wake every waiting reader."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
