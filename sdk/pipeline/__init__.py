"""The low-latency device pipeline: stages on threads joined by latest-item queues."""

from __future__ import annotations

from .metrics import LatencyWindow
from .queues import LatestQueue
from .runner import Pipeline
from .stage import FunctionStage, Stage, Work

__all__ = ["FunctionStage", "LatencyWindow", "LatestQueue", "Pipeline", "Stage", "Work"]
