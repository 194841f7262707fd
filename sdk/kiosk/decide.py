"""The kiosk's sink: evidence → policy decision → gate command → audit line."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import BiogateError
from ..frame import now_ns
from ..pipeline.metrics import LatencyWindow
from ..pipeline.stage import Work
from .audit import AuditLog
from .findings import Findings
from .policy import ALARM, DENY, NONE, OPEN, Decision, DecisionPolicy, Evidence

log = logging.getLogger(__name__)


@dataclass
class DecisionRecord:
    """A decision with its latencies, as the demo and ``biogate run`` print it."""

    decision: Decision
    latencies_ms: dict[str, float]
    name: str | None = None
    gate_error: str | None = None


def evidence_from(work: Work) -> Evidence:
    """What the stages found, in the policy's terms."""
    r: Findings = work.results
    live = r.liveness
    return Evidence(
        t_capture=work.t_capture,
        face_found=r.face is not None,
        live=None if live is None else bool(live.is_live),
        thermal_live=r.thermal_live,
        liveness_score=None if live is None else float(live.delta),
        identity=r.identity,
        match_score=r.match_score,
        temperature_c=r.temperature_c,
        track_key=r.track_key,
    )


class DecisionSink:
    """Decides, commands the gate, and writes the audit line; one call per work item.

    A gate that fails to answer is reported (the exception propagates to the pipeline's error
    counter after the audit line is written); the controller's own fail-safe keeps the door
    closed, so nothing here can leave it open.
    """

    def __init__(
        self,
        policy: DecisionPolicy,
        gate: Any = None,
        audit: AuditLog | None = None,
        on_decision: Callable[[DecisionRecord], None] | None = None,
        keep: int = 1000,
        audit_extra: dict[str, Any] | None = None,
    ) -> None:
        self.policy = policy
        #: Written into every audit record (the overrides in force: unfit models, unsigned bundles).
        self.audit_extra = dict(audit_extra or {})
        self.gate = gate
        self.audit = audit
        self.on_decision = on_decision
        self.capture_to_gate = LatencyWindow()
        self.records: list[DecisionRecord] = []
        self._keep = keep
        self._lock = threading.Lock()

    def __call__(self, work: Work) -> None:
        decision = self.policy.decide(evidence_from(work))
        gate_error = None
        if decision.action != NONE:
            try:
                self._command(decision)
            except BiogateError as exc:
                gate_error = f"{type(exc).__name__}: {exc}"
        e2e_ms = (now_ns() - work.t_capture) / 1e6
        latencies = dict(work.timings_ms)
        latencies["capture_to_gate"] = e2e_ms
        record = DecisionRecord(decision, latencies, work.results.name, gate_error)
        if decision.action != NONE:
            self.capture_to_gate.add(e2e_ms)
            with self._lock:
                self.records.append(record)
                del self.records[: -self._keep]
            if self.audit is not None:
                extra = dict(self.audit_extra)
                if gate_error:
                    extra["gate_error"] = gate_error
                self.audit.write(decision, latencies, extra=extra or None)
            if self.on_decision is not None:
                self.on_decision(record)
        if gate_error is not None:
            raise _GateCommandFailed(gate_error)

    def _command(self, decision: Decision) -> None:
        if self.gate is None:
            return
        if decision.action == OPEN:
            self.gate.open(self.policy.config.open_duration_ms)
        elif decision.action == DENY:
            self.gate.deny()
        elif decision.action == ALARM:
            self.gate.alarm()


class _GateCommandFailed(BiogateError):
    """The gate did not confirm a command (the decision is in the audit log with the error)."""
