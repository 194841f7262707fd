"""The kiosk decision: live AND matched AND temperature normal, with a cooldown per identity.

The policy sees only evidence (scores and flags from the stages), never images, so it can
be tested table-driven and audited line by line.  Anything missing or unsure denies: the
gate opens only on positive evidence for every required check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import Table, checked

OPEN, DENY, ALARM, NONE = "open", "deny", "alarm", "none"
LIVENESS_SOURCES = ("rgb", "thermal", "both")


@dataclass(frozen=True)
class PolicyConfig(Table):
    """Decision thresholds; every field is type- and range-checked (:mod:`biogate.kiosk.schema`)."""

    require_liveness: bool = True
    # Which presentation-attack checks decide "live": the RGB silent-liveness model (seed 004),
    # the thermal camera's skin check (prints and screens are at room temperature), or both.
    # Default "thermal": the only check that stops the simulated attacks today (the shipped RGB
    # model is unfit, docs/security.md); a kiosk without [thermal] then refuses to start.
    liveness_source: str = checked("thermal", choices=LIVENESS_SOURCES)
    require_temperature: bool = False  # True: no temperature reading means deny
    fever_c: float = checked(37.3, ge=30.0, le=45.0)  # a body temperature in °C
    open_cooldown_s: float = checked(5.0, ge=0.0)  # the same person is not let through twice within it
    deny_cooldown_s: float = checked(2.0, ge=0.0)  # repeated denials/alarms for a face not re-sent sooner
    open_duration_ms: int = checked(3000, ge=100, le=30000)


@dataclass
class Evidence:
    """What the stages found on one frame."""

    t_capture: int
    face_found: bool = False
    live: bool | None = None  # RGB silent-liveness verdict
    thermal_live: bool | None = None  # warm skin where the face is, on the thermal image
    liveness_score: float | None = None
    identity: str | None = None  # None: not matched to anyone enrolled
    match_score: float | None = None
    temperature_c: float | None = None
    track_key: str | None = None  # a stable key for cooldowns of unknown faces (track id)


@dataclass
class Decision:
    """The policy's verdict and every reason behind it."""

    action: str
    t_capture: int
    identity: str | None = None
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


class DecisionPolicy:
    """Turns :class:`Evidence` into a :class:`Decision`, remembering recent opens and denials."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self._last_open: dict[str, int] = {}
        self._last_deny: dict[str, int] = {}
        self._last_alarm: dict[str, int] = {}

    def decide(self, ev: Evidence, now_ns: int | None = None) -> Decision:
        """The decision for one frame's evidence; ``now_ns`` defaults to its capture time."""
        now = ev.t_capture if now_ns is None else now_ns
        cfg = self.config
        scores = {
            k: v
            for k, v in (
                ("liveness", ev.liveness_score),
                ("match", ev.match_score),
                ("temperature_c", ev.temperature_c),
            )
            if v is not None
        }
        if not ev.face_found:
            return Decision(NONE, ev.t_capture, reasons=["no face"], scores=scores)
        reasons: list[str] = []
        fever = ev.temperature_c is not None and ev.temperature_c >= cfg.fever_c
        if fever:
            reasons.append(f"temperature {ev.temperature_c:.1f} °C >= {cfg.fever_c:.1f} °C")
        if cfg.require_temperature and ev.temperature_c is None:
            reasons.append("no temperature reading")
        if cfg.require_liveness:
            reasons += self._liveness_reasons(ev)
        if ev.identity is None:
            reasons.append(
                "not enrolled" if ev.match_score is None else f"no match (best {ev.match_score:.3f})"
            )
        key = ev.identity or ev.track_key or "unknown"
        if fever:
            if self._recent(self._last_alarm, key, now, cfg.deny_cooldown_s):
                return Decision(NONE, ev.t_capture, ev.identity, [*reasons, "alarm already sent"], scores)
            self._last_alarm[key] = now
            return Decision(ALARM, ev.t_capture, ev.identity, reasons, scores)
        if reasons:
            if self._recent(self._last_deny, key, now, cfg.deny_cooldown_s):
                return Decision(NONE, ev.t_capture, ev.identity, [*reasons, "deny already sent"], scores)
            self._last_deny[key] = now
            return Decision(DENY, ev.t_capture, ev.identity, reasons, scores)
        if self._recent(self._last_open, key, now, cfg.open_cooldown_s):
            return Decision(
                NONE,
                ev.t_capture,
                ev.identity,
                [f"{ev.identity} let through < {cfg.open_cooldown_s:g} s ago"],
                scores,
            )
        self._last_open[key] = now
        return Decision(
            OPEN, ev.t_capture, ev.identity, [f"{ev.identity} matched, live, temperature normal"], scores
        )

    def _liveness_reasons(self, ev: Evidence) -> list[str]:
        checks = []
        if self.config.liveness_source in ("rgb", "both"):
            checks.append((ev.live, "presentation attack suspected", "liveness not checked"))
        if self.config.liveness_source in ("thermal", "both"):
            spoof = "presentation attack suspected: no warm skin on the thermal image"
            checks.append((ev.thermal_live, spoof, "no thermal liveness reading"))
        return [
            spoof if verdict is False else missing
            for verdict, spoof, missing in checks
            if verdict is not True
        ]

    @staticmethod
    def _recent(table: dict[str, int], key: str, now: int, window_s: float) -> bool:
        last = table.get(key)
        return last is not None and now - last < window_s * 1e9
