"""The fitness contract: a model that decides at a door carries proof that it is fit to.

A bundle of a *deciding role* — ``detector``, ``embedder``, ``liveness`` (presentation-attack
detection) or ``thermal`` (body temperature) — carries a ``fitness`` section in its manifest, written
by the exporter from the model's own held-out evaluation::

    "fitness": {
      "role": "liveness",
      "evaluation": "held-out genuine faces and simulated attacks (docs/liveness.md)",
      "precisions": ["fp32"],
      "metrics": {"acer": 0.5, "apcer_worst": 1.0},
      "budget":  {"acer": {"max": 0.10}, "apcer_worst": {"max": 0.10}},
      "verdict": "unfit",
      "failures": ["acer 0.5 > budget 0.1", "apcer_worst 1 > budget 0.1"]
    }

``metrics`` are the worst value over every precision the bundle lets the engine run without an
override (FP32 and each INT8 file that passed its accuracy gate).  The device never takes the
verdict on trust: :func:`assess` re-judges the metrics against the manifest's budget *and* against
:data:`BUDGETS`, the laxest budget this SDK accepts for each role; a laxer manifest budget, a
missing metric, a missing section or a role mismatch is unfit (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import BundleError, UnfitModelError
from .schema import is_number

#: Roles whose models take part in an access decision.
ROLES = ("detector", "embedder", "liveness", "thermal")

#: The laxest budget the SDK accepts, per role: metric -> ("max" | "min", bound).
BUDGETS: dict[str, dict[str, tuple[str, float]]] = {
    # Missed faces lock people out; the cascade must find nearly every face of the held-out photos.
    "detector": {"recall": ("min", 0.90), "ap50": ("min", 0.80)},
    # At the bundle's cosine threshold: false matches let strangers in, false non-matches lock out.
    "embedder": {"fmr": ("max", 0.001), "fnmr": ("max", 0.05)},
    # ISO/IEC 30107-3 at the calibrated threshold; the worst attack species must be stopped too.
    "liveness": {"acer": ("max", 0.10), "apcer_worst": ("max", 0.10)},
    # Body temperature from the model head: a few tenths of a degree decide a fever alarm at 37.3 °C.
    "thermal": {"temp_mae_c": ("max", 0.30), "temp_p95_abs_err_c": ("max", 0.60)},
}


def _within(value: float, sense: str, bound: float) -> bool:
    return value <= bound if sense == "max" else value >= bound


def _op(sense: str) -> str:
    return ">" if sense == "max" else "<"


def judge(role: str, metrics: Mapping[str, Any], evaluation: str = "", precisions: Any = ("fp32",)) -> dict:
    """The manifest ``fitness`` section for ``role`` from measured ``metrics`` (the exporter's side)."""
    if role not in BUDGETS:
        raise BundleError(f"unknown fitness role {role!r}; roles: {', '.join(ROLES)}")
    values: dict[str, float | None] = {}
    failures: list[str] = []
    for name, (sense, bound) in BUDGETS[role].items():
        value = metrics.get(name)
        values[name] = float(value) if is_number(value) else None
        if values[name] is None:
            failures.append(f"{name} was not measured")
        elif not _within(float(value), sense, bound):
            failures.append(f"{name} {float(value):.4g} {_op(sense)} budget {bound:g}")
    return {
        "role": role,
        "evaluation": evaluation,
        "precisions": list(precisions),
        "metrics": values,
        "budget": {name: {sense: bound} for name, (sense, bound) in BUDGETS[role].items()},
        "verdict": "unfit" if failures else "fit",
        "failures": failures,
    }


@dataclass
class Fitness:
    """The device's verdict on one bundle for one role."""

    bundle: str  # manifest name
    root: str
    role: str
    fit: bool
    failures: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluation: str = ""

    def message(self) -> str:
        """One line: the bundle, every failed metric with its value and budget, the evaluation."""
        if self.fit:
            return f"bundle {self.bundle} ({self.root}) is fit for {self.role}"
        on = f" (measured on: {self.evaluation})" if self.evaluation else ""
        return f"bundle {self.bundle} ({self.root}) is unfit for {self.role}: {'; '.join(self.failures)}{on}"

    def to_json(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "role": self.role, "fit": self.fit, "failures": list(self.failures)}


def _budget_failures(name: str, value: Any, budget: Any, floor: tuple[str, float]) -> list[str]:
    sense, bound = floor
    if not is_number(value):
        return [f"{name} was not measured (manifest has {value!r})"]
    declared = budget.get(name) if isinstance(budget, dict) else None
    limit = declared.get(sense) if isinstance(declared, dict) else None
    if not is_number(limit):
        return [f"{name} has no {sense} budget in the manifest"]
    out = []
    if not _within(float(limit), sense, bound):
        out.append(f"{name} budget {sense} {float(limit):g} is laxer than the SDK's {sense} {bound:g}")
    strict = min(float(limit), bound) if sense == "max" else max(float(limit), bound)
    if not _within(float(value), sense, strict):
        out.append(f"{name} {float(value):.4g} {_op(sense)} budget {strict:g}")
    return out


def assess(manifest: Mapping[str, Any], root: str, role: str) -> Fitness:
    """Re-judge a manifest's ``fitness`` section for ``role`` (see the module docstring)."""
    if role not in BUDGETS:
        raise BundleError(f"unknown fitness role {role!r}; roles: {', '.join(ROLES)}")
    name = str(manifest.get("name", "?"))
    section = manifest.get("fitness")
    if not isinstance(section, dict):
        reason = "its manifest has no fitness section (held-out metrics and the budget they were judged by)"
        return Fitness(name, root, role, False, [reason])
    evaluation = str(section.get("evaluation") or "")
    if section.get("role") != role:
        reason = f"its fitness section is for role {section.get('role')!r}, not {role!r}"
        return Fitness(name, root, role, False, [reason], evaluation=evaluation)
    metrics = section.get("metrics") if isinstance(section.get("metrics"), dict) else {}
    failures: list[str] = []
    for metric, floor in BUDGETS[role].items():
        failures += _budget_failures(metric, metrics.get(metric), section.get("budget"), floor)
    if section.get("verdict") != "fit" and not failures:
        failures.append(f"the exporter's verdict is {section.get('verdict')!r}")
    return Fitness(name, root, role, not failures, failures, dict(metrics), evaluation)


__all__ = ["BUDGETS", "ROLES", "Fitness", "UnfitModelError", "assess", "judge"]
