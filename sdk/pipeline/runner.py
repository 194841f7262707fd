"""Run stages on threads connected by latest-item queues (DESIGN.md §2)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Iterable, Optional, Sequence

from ..errors import BiogateError, ConfigError
from ..frame import Frame, now_ns
from .metrics import LatencyWindow
from .queues import LatestQueue
from .stage import Stage, Work

log = logging.getLogger(__name__)

ErrorCallback = Callable[[str, BaseException, Optional[Work]], None]
_POLL_S = 0.05  # how often an idle thread re-checks the stop flag


class Pipeline:
    """source → [stage groups on threads] → sink, joined by :class:`LatestQueue` s.

    Args:
        source: an iterable of :class:`Frame` (e.g. ``biogate.open_source(uri)``); closed on stop
            if it has ``close()``.
        stages: the stages in order; consecutive non-threaded stages share the thread before them.
        sink: called with every work item that reaches the end (the decision and gate command).
        queue_size: capacity of each queue (1 = always the freshest item).
        on_error: called as ``on_error(stage_name, exception, work)`` when a stage, the source or the
            sink fails; the pipeline keeps serving (the failing item is dropped).
        results: makes each work item's ``results`` record (``dict`` by default; the kiosk passes
            its typed :class:`~biogate.kiosk.findings.Findings`).

    ``stats()`` reports per-stage latency, queue drops, errors, frame age at decision and
    capture-to-sink latency, all measured from each frame's capture timestamp.
    """

    def __init__(
        self,
        source: Iterable[Frame],
        stages: Sequence[Stage],
        sink: Callable[[Work], Any],
        queue_size: int = 1,
        on_error: ErrorCallback | None = None,
        results: Callable[[], Any] = dict,
    ) -> None:
        if not stages:
            raise ConfigError("a pipeline needs at least one stage")
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ConfigError(f"stage names must be unique, got {names}")
        self._source = source
        self._stages = list(stages)
        self._sink = sink
        self._on_error = on_error
        self._results = results
        self._groups = self._group(self._stages)
        self._queues = [LatestQueue(queue_size, name=f"to_{g[0].name}") for g in self._groups]
        self._queues.append(LatestQueue(queue_size, name="to_sink"))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stage_latency: dict[str, LatencyWindow] = {s.name: LatencyWindow() for s in self._stages}
        self.frame_age_at_decision = LatencyWindow()
        # Age of each frame when a stage thread takes it from its queue: how stale the input is.
        self.input_age: dict[str, LatencyWindow] = {g[0].name: LatencyWindow() for g in self._groups}
        self.capture_to_sink = LatencyWindow()
        self.errors: dict[str, int] = {}
        self.recent_errors: deque[str] = deque(maxlen=50)
        self.frames_in = 0
        self.results_out = 0
        self._source_done = threading.Event()

    @staticmethod
    def _group(stages: list[Stage]) -> list[list[Stage]]:
        groups: list[list[Stage]] = []
        for stage in stages:
            if stage.threaded or not groups:
                groups.append([stage])
            else:
                groups[-1].append(stage)
        return groups

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Pipeline:
        """Start the source, stage and sink threads; returns self."""
        if self._threads:
            raise ConfigError("pipeline already started")
        specs = [("source", self._run_source, ())]
        specs += [(f"stage-{g[0].name}", self._run_group, (i,)) for i, g in enumerate(self._groups)]
        specs.append(("sink", self._run_sink, ()))
        for name, target, args in specs:
            thread = threading.Thread(target=target, args=args, name=f"biogate-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every thread, close the source and the stages; safe to call twice."""
        self._stop.set()
        close = getattr(self._source, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # a failing close must not keep the pipeline alive
                self._report("source", exc, None)
        for queue in self._queues:
            queue.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        for stage in self._stages:
            try:
                stage.close()
            except Exception as exc:
                self._report(stage.name, exc, None)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until a finite source is exhausted and every item has reached the sink."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return not any(t.is_alive() for t in self._threads)

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- threads -----------------------------------------------------------------------------

    def _report(self, where: str, exc: BaseException, work: Work | None) -> None:
        self.errors[where] = self.errors.get(where, 0) + 1
        text = f"{where}: {type(exc).__name__}: {exc}"
        self.recent_errors.append(text)
        if isinstance(exc, BiogateError):
            log.warning("%s", text)
        else:
            log.error("%s", text, exc_info=exc)
        if self._on_error is not None:
            try:
                self._on_error(where, exc, work)
            except Exception:  # the error reporter itself must never kill a thread
                log.exception("on_error callback failed")

    def _run_source(self) -> None:
        first = self._queues[0]
        try:
            for frame in self._source:
                if self._stop.is_set():
                    break
                self.frames_in += 1
                first.put(Work(frame, self._results()))
        except Exception as exc:
            self._report("source", exc, None)
        finally:
            self._source_done.set()
            first.close()

    def _run_group(self, index: int) -> None:
        inbox, outbox = self._queues[index], self._queues[index + 1]
        try:
            while not self._stop.is_set():
                work = inbox.get(timeout=_POLL_S)
                if work is None:
                    if inbox.closed:
                        break
                    continue
                self.input_age[self._groups[index][0].name].add((now_ns() - work.t_capture) / 1e6)
                for stage in self._groups[index]:
                    t0 = time.perf_counter_ns()
                    try:
                        work = stage.process(work)
                    except Exception as exc:
                        self._report(stage.name, exc, work)
                        work = None
                    elapsed_ms = (time.perf_counter_ns() - t0) / 1e6
                    self.stage_latency[stage.name].add(elapsed_ms)
                    if work is None:
                        break
                    work.timings_ms[stage.name] = elapsed_ms
                if work is not None:
                    outbox.put(work)
        finally:
            outbox.close()

    def _run_sink(self) -> None:
        inbox = self._queues[-1]
        while not self._stop.is_set():
            work = inbox.get(timeout=_POLL_S)
            if work is None:
                if inbox.closed:
                    break
                continue
            self.frame_age_at_decision.add((now_ns() - work.t_capture) / 1e6)
            try:
                self._sink(work)
            except Exception as exc:
                self._report("sink", exc, work)
                continue
            self.results_out += 1
            self.capture_to_sink.add((now_ns() - work.t_capture) / 1e6)

    # -- reporting ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Latency, drops and errors so far (JSON-able)."""
        return {
            "frames_in": self.frames_in,
            "results_out": self.results_out,
            "stages": {name: window.summary() for name, window in self.stage_latency.items()},
            "queues": {q.name: {"dropped": q.dropped, "put": q.put_count} for q in self._queues},
            "frame_age_at_decision": self.frame_age_at_decision.summary(),
            "input_age": {name: window.summary() for name, window in self.input_age.items()},
            "capture_to_sink": self.capture_to_sink.summary(),
            "errors": dict(self.errors),
            "recent_errors": list(self.recent_errors),
        }
