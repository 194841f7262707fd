"""Pipeline behaviour with slow and failing stages: drops, not queues; errors reported; clean stop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from biogate import ConfigError, Frame
from biogate.frame import now_ns
from biogate.pipeline import FunctionStage, LatestQueue, Pipeline, Work


def frames(n: int):
    image = np.zeros((4, 4), np.uint8)
    for i in range(n):
        yield Frame(image, "gray8", t_capture=now_ns(), seq=i, source="test://")


class GatedSource:
    """Yields frames only while the test lets it, and records close()."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = threading.Event()

    def __iter__(self):
        yield from frames(self.n)

    def close(self) -> None:
        self.closed.set()


def test_latest_queue_keeps_newest_and_counts_drops():
    q = LatestQueue(2)
    assert q.put(1) and q.put(2)
    assert q.put(3) is False
    assert q.dropped == 1 and len(q) == 2
    assert q.get(0) == 2 and q.get(0) == 3 and q.get(0) is None
    q.close()
    assert q.put(4) is False and q.get() is None


def test_slow_stage_drops_stale_frames_instead_of_queueing():
    release = threading.Event()
    entered = threading.Event()

    def slow(work: Work):
        entered.set()
        release.wait(10)
        return work

    sink_seqs = []

    def sink(work: Work) -> None:
        sink_seqs.append(work.frame.seq)

    pipe = Pipeline(frames(200), [FunctionStage("slow", slow)], sink)
    pipe.start()
    assert entered.wait(10)
    pipe._source_done.wait(10)  # the source has pushed all 200 frames while the stage was stuck
    release.set()
    assert pipe.wait(10)
    stats = pipe.stats()
    assert stats["frames_in"] == 200
    # At most the frame in the stage and the newest queued frame get through.
    assert len(sink_seqs) <= 3
    assert sink_seqs[-1] == 199
    assert stats["queues"]["to_slow"]["dropped"] >= 195


def test_failing_stage_is_reported_and_pipeline_keeps_serving():
    errors = []

    def flaky(work: Work):
        if work.frame.seq % 2:
            raise RuntimeError(f"model crashed on frame {work.frame.seq}")
        work.results["ok"] = True
        return work

    out = []
    pipe = Pipeline(
        frames(20),
        [FunctionStage("flaky", flaky, threaded=True)],
        out.append,
        queue_size=64,
        on_error=lambda where, exc, work: errors.append((where, str(exc))),
    )
    with pipe:
        assert pipe.wait(10)
    assert [w.frame.seq for w in out] == list(range(0, 20, 2))
    assert pipe.stats()["errors"] == {"flaky": 10}
    assert errors[0] == ("flaky", "model crashed on frame 1")


def test_inline_stages_share_a_thread_and_record_timings():
    thread_names = {}

    def record(name):
        def fn(work: Work):
            thread_names[name] = threading.current_thread().name
            return work

        return fn

    stages = [
        FunctionStage("a", record("a")),
        FunctionStage("b", record("b"), threaded=False),
        FunctionStage("c", record("c")),
    ]
    out = []
    pipe = Pipeline(frames(5), stages, out.append, queue_size=8)
    with pipe:
        assert pipe.wait(10)
    assert thread_names["a"] == thread_names["b"] != thread_names["c"]
    assert set(out[0].timings_ms) == {"a", "b", "c"}
    stats = pipe.stats()
    assert stats["stages"]["a"]["count"] == 5
    assert stats["frame_age_at_decision"]["count"] == 5


def test_stage_returning_none_stops_the_item():
    out = []
    pipe = Pipeline(
        frames(6),
        [FunctionStage("even", lambda w: w if w.frame.seq % 2 == 0 else None)],
        out.append,
        queue_size=8,
    )
    with pipe:
        pipe.wait(10)
    assert [w.frame.seq for w in out] == [0, 2, 4]


def test_stop_closes_source_and_stages_and_unblocks_threads():
    closed = []

    class Endless:
        def __init__(self):
            self.closed = threading.Event()

        def __iter__(self):
            image = np.zeros((2, 2), np.uint8)
            i = 0
            while not self.closed.is_set():
                i += 1
                yield Frame(image, "gray8", now_ns(), i)

        def close(self):
            self.closed.set()

    class Closing(FunctionStage):
        def close(self):
            closed.append(self.name)

    got_one = threading.Event()
    source = Endless()
    pipe = Pipeline(source, [Closing("s", lambda w: w)], lambda w: got_one.set())
    pipe.start()
    assert got_one.wait(10)
    pipe.stop()
    assert source.closed.is_set() and closed == ["s"]
    assert not any(t.is_alive() for t in pipe._threads)


def test_failing_sink_and_source_are_reported():
    def bad_source():
        yield from frames(2)
        raise OSError("camera unplugged")

    errors = []
    pipe = Pipeline(
        bad_source(),
        [FunctionStage("s", lambda w: w)],
        lambda w: 1 / 0,
        queue_size=4,
        on_error=lambda where, exc, work: errors.append(where),
    )
    with pipe:
        pipe.wait(10)
    assert "source" in errors and "sink" in errors


@pytest.mark.parametrize("stages", [[], [FunctionStage("x", lambda w: w), FunctionStage("x", lambda w: w)]])
def test_bad_configuration(stages):
    with pytest.raises(ConfigError):
        Pipeline(frames(1), stages, lambda w: None)
