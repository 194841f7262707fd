"""The Source base class: latest-frame delivery, lossless mode, timeouts, errors, reconnect."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from biogate.capture.source import Source
from biogate.capture.uri import parse_uri
from biogate.errors import SourceDisconnected, SourceError
from biogate.frame import Frame, now_ns

OPTS = {
    "latest": None,
    "queue_size": 8,
    "reconnect": None,
    "backoff_initial_s": 0.001,
    "backoff_max_s": 0.004,
    "max_reconnects": 0,
    "timeout_s": 5.0,
}


class GatedSource(Source):
    """A device that produces a frame each time the test releases the gate."""

    def __init__(self, opts=None, frames: int = 100):
        super().__init__(parse_uri("synthetic://gated"), dict(OPTS, **(opts or {})))
        self.gate = threading.Semaphore(0)
        self.produced = threading.Semaphore(0)
        self.frames = frames
        self.i = 0
        self.fail_next = threading.Event()
        self.open_failures = 0
        self.opens = 0

    def _open(self) -> None:
        if self.open_failures:
            self.open_failures -= 1
            raise SourceError("still unplugged")
        self.opens += 1

    def _grab(self) -> Frame | None:
        while not self.gate.acquire(timeout=0.05):
            if self.stopping:
                return None
        if self.fail_next.is_set():
            self.fail_next.clear()
            raise OSError(19, "No such device")
        if self.i >= self.frames:
            return None
        self.i += 1
        frame = Frame(np.full((2, 2), self.i, np.uint8), "gray8", now_ns(), meta={"n": self.i})
        return frame

    def _publish(self, frame: Frame) -> None:
        super()._publish(frame)
        self.produced.release()

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.gate.release()
            assert self.produced.acquire(timeout=5)


def test_latest_mode_keeps_only_newest_and_counts_drops():
    with GatedSource({"latest": True}).start() as src:
        src.step(5)
        frame = src.read(timeout=5)
        assert frame.meta["n"] == 5 and frame.seq == 4
        assert src.dropped == 4
        assert src.read(timeout=0.01) is None  # never the same frame twice
        again = src.read(timeout=0.01, repeat=True)
        assert again is frame  # unless asked: the same object, no copy
        src.step(1)
        assert src.read(timeout=5).meta["n"] == 6
        stats = src.stats()
        assert stats["captured"] == 6 and stats["delivered"] == 3 and stats["dropped"] == 4
        assert stats["age_ms_p99"] is not None and "age_ms_at_read" in frame.meta


def test_lossless_mode_delivers_every_frame_with_backpressure():
    src = GatedSource({"latest": False, "queue_size": 2}, frames=6).start()
    try:
        src.step(2)
        src.gate.release()  # third frame: the grabber must wait for room in the queue
        assert not src.produced.acquire(timeout=0.1)
        assert [src.read(timeout=5).meta["n"] for _ in range(2)] == [1, 2]
        for _ in range(4):  # frames 4, 5, 6 and the end of the stream
            src.gate.release()
        got = [f.meta["n"] for f in src]
        assert got == [3, 4, 5, 6]
        assert src.dropped == 0 and src.finished
    finally:
        src.close()


def test_iteration_timeout_is_an_error_not_a_hang():
    with GatedSource({"latest": True, "timeout_s": 0.05}).start() as src, pytest.raises(
        SourceError, match="no frame within"
    ):
        next(iter(src))


def test_device_loss_without_reconnect_raises_typed_error():
    with GatedSource({"latest": True}).start() as src:
        src.fail_next.set()
        src.gate.release()
        with pytest.raises(SourceDisconnected, match="No such device"):
            src.read(timeout=5)
        assert src.stats()["state"] == "failed"


def test_reconnect_with_capped_exponential_backoff_records_outage():
    src = GatedSource({"latest": True, "reconnect": True, "backoff_initial_s": 0.001, "backoff_max_s": 0.004})
    delays: list[float] = []
    real_wait = src._wait

    def recording_wait(seconds: float) -> bool:
        delays.append(seconds)
        return real_wait(0)

    src._wait = recording_wait  # type: ignore[method-assign]
    src.start()
    try:
        src.step(1)
        assert src.read(timeout=5).meta["n"] == 1
        src.open_failures = 4
        src.fail_next.set()
        src.gate.release()  # the grab fails: reconnect loop runs (4 failed opens, then success)
        src.step(1)
        frame = src.read(timeout=5)
        assert frame.meta["n"] == 2
        outage = frame.meta["outage"]
        assert outage["attempts"] == 5 and "No such device" in outage["error"]
        assert delays == [0.001, 0.002, 0.004, 0.004, 0.004]
        assert src.stats()["reconnects"] == 1 and src.stats()["outages"][0] == outage
    finally:
        src.close()


def test_reconnect_gives_up_after_max_attempts():
    src = GatedSource({"latest": True, "reconnect": True, "max_reconnects": 3, "backoff_initial_s": 0.0})
    src.start()
    try:
        src.open_failures = 10
        src.fail_next.set()
        src.gate.release()
        with pytest.raises(SourceDisconnected, match="gave up after 3 reconnect attempts"):
            src.read(timeout=5)
    finally:
        src.close()


def test_close_unblocks_a_waiting_reader():
    src = GatedSource({"latest": True}).start()
    result = []
    reader = threading.Thread(target=lambda: result.append(src.read()))
    reader.start()
    src.close()
    reader.join(5)
    assert not reader.is_alive() and result == [None]
    src.close()  # twice is fine


def test_outage_note_survives_frames_dropped_in_latest_mode():
    src = GatedSource({"latest": True, "reconnect": True, "backoff_initial_s": 0.0})
    src.start()
    try:
        src.step(1)
        src.read(timeout=5)
        src.fail_next.set()
        src.gate.release()  # lost, reopened at once
        src.step(3)  # three frames after the outage; the consumer reads only the newest
        frame = src.read(timeout=5)
        assert frame.meta["n"] == 4 and frame.meta["outage"]["attempts"] == 1
        assert src.dropped == 2
    finally:
        src.close()
