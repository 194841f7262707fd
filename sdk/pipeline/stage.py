"""Pipeline stages: objects with one method, and the work item that flows through them."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable

from ..frame import Frame, now_ns


@dataclass
class Work:
    """One frame on its way to a decision, with what each stage found and how long it took.

    ``results`` is whatever record the pipeline's ``results`` factory makes (a dict by default;
    the kiosk's is the typed :class:`biogate.kiosk.findings.Findings`).
    """

    frame: Frame
    results: Any = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    t_enqueued: int = field(default_factory=now_ns)

    @property
    def t_capture(self) -> int:
        """Capture time of the frame this work came from (monotonic ns)."""
        return self.frame.t_capture


class Stage(abc.ABC):
    """A step of the pipeline.

    ``process`` returns the (usually same) work item to pass on, or ``None`` to stop it here
    (no face, a frame not sampled, ...).  ``threaded`` stages get their own thread and an input
    queue; the others run inline in the thread of the stage before them, where a thread would
    cost more than it saves.
    """

    name: str = "stage"
    threaded: bool = True

    @abc.abstractmethod
    def process(self, work: Work) -> Work | None:
        """Do this stage's job on ``work``."""

    def close(self) -> None:  # noqa: B027 - optional hook, most stages hold nothing
        """Release resources; called once when the pipeline stops."""


class FunctionStage(Stage):
    """A stage made from a function ``fn(work) -> work | None``."""

    def __init__(self, name: str, fn: Callable[[Work], Work | None], threaded: bool = True) -> None:
        self.name = name
        self.threaded = threaded
        self._fn = fn

    def process(self, work: Work) -> Work | None:
        return self._fn(work)
