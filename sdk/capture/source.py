"""The :class:`Source` every driver builds on: a background grabber and freshest-frame delivery.

A driver implements three methods — ``_open()``, ``_grab() -> Frame | None`` (block until the
next frame; ``None`` at end of stream; raise :class:`SourceDisconnected` or ``OSError`` when
the device went away) and ``_close()``. The base class runs ``_grab`` on a background thread
and hands frames to the consumer in one of two modes:

* **latest** (default for live devices): a one-slot buffer. A new frame replaces an unread
  one, which is counted as dropped, so a slow consumer always gets the newest frame and the
  age at read stays below one frame period plus the consumer's own jitter.
* **lossless** (default for files, folders and X-ray exports): a bounded FIFO; the grabber
  waits when it is full, so every frame is delivered (``queue_size=0`` makes it unbounded —
  the ``cv2.VideoCapture`` behaviour, kept for comparisons).

The Frame object the driver built is the one the consumer gets: no copy happens here.
A frame is never returned twice unless ``read(repeat=True)`` asks for it.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections import deque
from typing import Any

import numpy as np

from ..errors import BiogateError, SourceDisconnected, SourceError
from ..frame import Frame, now_ns
from .uri import SourceURI

log = logging.getLogger("biogate.capture")

_JOIN_TIMEOUT_S = 2.0


class Source(abc.ABC):
    """An iterator of :class:`~biogate.Frame` from one device, file or generator.

    Use it as ``with biogate.open_source(uri) as src: for frame in src: ...`` or call
    :meth:`read`. :meth:`stats` reports frames captured, delivered and dropped, capture fps,
    frame age at read (p50/p99) and reconnect outages.
    """

    #: Live devices default to latest-frame mode; recorded media to lossless mode.
    LIVE = True
    #: Whether ``reconnect`` defaults to on (an I2C sensor re-initialises by itself).
    RECONNECT_DEFAULT = False

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        self.uri = uri
        self.name = str(uri)
        self.options = dict(options)
        latest = options.get("latest")
        self.latest: bool = self.LIVE if latest is None else bool(latest)
        reconnect = options.get("reconnect")
        self.reconnect: bool = self.RECONNECT_DEFAULT if reconnect is None else bool(reconnect)
        self.queue_size: int = int(options.get("queue_size", 8))
        self.timeout_s: float = float(options.get("timeout_s", 10.0))
        self._backoff_initial = float(options.get("backoff_initial_s", 0.1))
        self._backoff_max = float(options.get("backoff_max_s", 5.0))
        self._max_reconnects = int(options.get("max_reconnects", 0))
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._buffer: deque[Frame] = deque()
        self._last: Frame | None = None
        self._thread: threading.Thread | None = None
        self._error: BiogateError | None = None
        self._eos = False
        self._closed = False
        self._started = False
        self._seq = 0
        self._tick_ns = 0
        self._captured = 0
        self._delivered = 0
        self._dropped = 0
        self._reconnects = 0
        self._outages: list[dict[str, Any]] = []
        self._pending_outage: dict[str, Any] | None = None
        self._t_caps: deque[int] = deque(maxlen=64)
        self._ages: deque[float] = deque(maxlen=2048)
        #: Driver-specific counters (files skipped, invalid frames, FFC events ...), shown in stats().
        self.counters: dict[str, int] = {}

    # ----------------------------------------------------------------- driver interface
    def _open(self) -> None:  # noqa: B027 - optional hook: drivers that open lazily skip it
        """Open the device; raise SourceError naming the URI when it cannot be opened."""

    @abc.abstractmethod
    def _grab(self) -> Frame | None:
        """Block until the next frame; None at end of stream."""

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release the device; must not raise."""

    # ----------------------------------------------------------------- helpers for drivers
    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` unless the source is closing; False when it is."""
        if seconds > 0:
            return not self._stop.wait(seconds)
        return not self._stop.is_set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`close` was called (drivers end their waits)."""
        return self._stop.is_set()

    def _pace(self, fps: float) -> int | None:
        """Wait for the next tick of an ``fps`` clock started at the first call.

        Returns the tick's time in ns (the frame's nominal capture time; ``now`` when ``fps <= 0``),
        or None when the source is closing.
        """
        now = now_ns()
        if fps <= 0:
            return now
        if not self._tick_ns:
            self._tick_ns = now
        period = int(1e9 / fps)
        wait_ns = self._tick_ns - now
        if wait_ns > 0 and not self._wait(wait_ns / 1e9):
            return None
        if -wait_ns >= period:
            # Late by whole periods (CPU starved, or a lossless consumer held us back): a sensor
            # does not wait for its driver, so those exposures are gone; count them.
            missed = -wait_ns // period
            self._tick_ns += missed * period
            self._count("ticks_missed", int(missed))
        tick = self._tick_ns
        self._tick_ns += period
        return tick

    def _count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def _skip(self, path: str, reason: str) -> None:
        """Log and count a skipped input (corrupt file, wrong size) without stopping the stream."""
        self._count("skipped")
        log.warning("%s: skipped %s: %s", self.name, path, reason)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Source:
        """Open the device and start the grabber thread (``open_source`` does this)."""
        if self._started:
            return self
        self._open()
        self._started = True
        self._thread = threading.Thread(target=self._run, name=f"biogate-grab {self.name}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the grabber and release the device. Safe to call twice."""
        self._stop.set()
        with self._cond:
            already = self._closed
            self._closed = True
            self._cond.notify_all()
        if already:
            return
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT_S)
        try:
            self._close()
        except Exception as exc:  # releasing a dead device must not mask the caller's error
            log.debug("%s: close failed: %s", self.name, exc)

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: a forgotten source must not keep a camera open
        try:
            if self._started and not self._closed:
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        mode = "latest" if self.latest else "lossless"
        return f"<{type(self).__name__} {self.name} {mode} captured={self._captured} dropped={self._dropped}>"

    # ----------------------------------------------------------------- grabber thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._grab()
            except (SourceDisconnected, OSError) as exc:
                if self._stop.is_set():
                    break
                err = (
                    exc if isinstance(exc, SourceDisconnected) else SourceDisconnected(f"{self.name}: {exc}")
                )
                if self.reconnect:
                    failure = self._reconnect_loop(err)
                    if failure is None:
                        continue
                    err = failure
                self._fail(err)
                return
            except BiogateError as exc:
                self._fail(exc)
                return
            except Exception as exc:  # an unexpected library error must reach the consumer, not vanish
                log.exception("%s: capture failed", self.name)
                self._fail(SourceError(f"{self.name}: capture failed: {exc!r}"))
                return
            if frame is None:
                with self._cond:
                    self._eos = True
                    self._cond.notify_all()
                return
            self._publish(frame)

    def _publish(self, frame: Frame) -> None:
        with self._cond:
            if not self.latest and self.queue_size:
                while len(self._buffer) >= self.queue_size and not self._closed:
                    self._cond.wait()
            if self._closed:
                return
            frame.seq = self._seq
            self._seq += 1
            frame.source = self.name
            if self._pending_outage is not None:
                frame.meta["outage"] = self._pending_outage
                self._pending_outage = None
            self._captured += 1
            self._t_caps.append(frame.t_capture)
            if self.latest and self._buffer:
                for old in self._buffer:  # an outage note must reach the consumer, not drop with its frame
                    if "outage" in old.meta and "outage" not in frame.meta:
                        frame.meta["outage"] = old.meta["outage"]
                self._dropped += len(self._buffer)
                self._buffer.clear()
            self._buffer.append(frame)
            self._cond.notify_all()

    def _fail(self, err: BiogateError) -> None:
        log.error("%s: %s", self.name, err)
        with self._cond:
            self._error = err
            self._cond.notify_all()

    def _reconnect_loop(self, err: BiogateError) -> BiogateError | None:
        """Reopen with capped exponential back-off; None on success, else the final error."""
        start = now_ns()
        log.warning("%s: device lost (%s); reconnecting", self.name, err)
        try:
            self._close()
        except Exception as exc:
            log.debug("%s: close during reconnect failed: %s", self.name, exc)
        delay = self._backoff_initial
        attempts = 0
        while self._wait(delay):
            attempts += 1
            try:
                self._open()
            except (SourceError, OSError) as exc:
                if self._max_reconnects and attempts >= self._max_reconnects:
                    return SourceDisconnected(
                        f"{self.name}: gave up after {attempts} reconnect attempts: {exc}"
                    )
                delay = min(self._backoff_max, delay * 2)
                continue
            end = now_ns()
            outage = {
                "start_ns": start,
                "end_ns": end,
                "duration_ms": (end - start) / 1e6,
                "attempts": attempts,
                "error": str(err),
            }
            with self._cond:
                self._reconnects += 1
                self._outages.append(outage)
                del self._outages[:-16]
                self._pending_outage = outage
            log.warning(
                "%s: reconnected after %.0f ms (%d attempts)", self.name, outage["duration_ms"], attempts
            )
            return None
        return err

    # ----------------------------------------------------------------- consumer side
    def read(self, timeout: float | None = None, repeat: bool = False) -> Frame | None:
        """The next frame not yet returned, or None on timeout or end of stream.

        Args:
            timeout: seconds to wait; None waits until a frame, the end or an error.
            repeat: when no new frame is ready, return the last frame again instead of waiting.

        Raises:
            SourceError: the device failed (after reconnect attempts, if enabled).
        """
        deadline = None if timeout is None else now_ns() + int(timeout * 1e9)
        with self._cond:
            while True:
                if self._buffer:
                    frame = self._buffer.popleft()
                    self._cond.notify_all()
                    break
                if repeat and self._last is not None:
                    frame = self._last
                    break
                if self._error is not None:
                    raise self._error
                if self._eos or self._closed:
                    return None
                if deadline is None:
                    self._cond.wait()
                else:
                    remaining = (deadline - now_ns()) / 1e9
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
            self._delivered += 1
            self._last = frame
            age_ms = (now_ns() - frame.t_capture) / 1e6
            self._ages.append(age_ms)
        frame.meta["age_ms_at_read"] = age_ms
        return frame

    @property
    def finished(self) -> bool:
        """True when the stream ended (or was closed) and every frame was read."""
        with self._cond:
            return (self._eos or self._closed) and not self._buffer

    def __iter__(self) -> Source:
        return self

    def __next__(self) -> Frame:
        frame = self.read(timeout=self.timeout_s or None)
        if frame is not None:
            return frame
        if self.finished:
            raise StopIteration
        raise SourceError(f"{self.name}: no frame within {self.timeout_s:g} s (timeout_s option)")

    # ----------------------------------------------------------------- statistics
    @property
    def fps(self) -> float:
        """Capture rate over the last 64 frames (0 before two frames)."""
        with self._cond:
            stamps = list(self._t_caps)
        if len(stamps) < 2 or stamps[-1] <= stamps[0]:
            return 0.0
        return (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9)

    @property
    def dropped(self) -> int:
        """Frames captured but replaced before any read (latest mode)."""
        return self._dropped

    def stats(self) -> dict[str, Any]:
        """Counters and rates: captured, delivered, dropped, fps, age at read, reconnects, outages."""
        fps = self.fps
        with self._cond:
            ages = np.asarray(self._ages, dtype=np.float64)
            out: dict[str, Any] = {
                "uri": self.name,
                "mode": "latest" if self.latest else "lossless",
                "captured": self._captured,
                "delivered": self._delivered,
                "dropped": self._dropped,
                "buffered": len(self._buffer),
                "fps": fps,
                "age_ms_last": float(ages[-1]) if ages.size else None,
                "age_ms_p50": float(np.percentile(ages, 50)) if ages.size else None,
                "age_ms_p99": float(np.percentile(ages, 99)) if ages.size else None,
                "reconnects": self._reconnects,
                "outages": list(self._outages),
                "state": self._state(),
            }
        out.update(self.counters)
        return out

    def _state(self) -> str:
        if self._error is not None:
            return "failed"
        if self._closed:
            return "closed"
        if self._eos:
            return "ended"
        return "running" if self._started else "new"
