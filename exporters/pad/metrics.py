"""ISO/IEC 30107-3 presentation-attack-detection metrics on scalar attack scores.

Convention: a **higher score means more likely an attack** (seed 004's Δ). A presentation is
classified *attack* when ``score > threshold``; a score equal to the threshold is bona fide (the
seed's "otherwise it is a normal face").

* APCER (per PAI species): share of that species' attack presentations classified bona fide.
* BPCER: share of bona fide presentations classified attack.
* APCER of a system: the worst species (ISO/IEC 30107-3 §13.2 reports the maximum over species).
* ACER = (worst APCER + BPCER) / 2 (the OULU-NPU / ISO 30107-3:2017 average; later editions
  discourage it as a single figure, so every component is reported as well).
* BPCER@APCER=x: the BPCER at the highest threshold whose worst-species APCER is ≤ x.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


def _as_scores(scores: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{what}: no scores")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: scores contain NaN or inf")
    return arr


def bpcer(bona_fide: Sequence[float] | np.ndarray, threshold: float) -> float:
    """Share of bona fide scores above ``threshold`` (rejected genuine users)."""
    arr = _as_scores(bona_fide, "bona fide")
    return float(np.mean(arr > threshold))


def apcer(attacks: Sequence[float] | np.ndarray, threshold: float) -> float:
    """Share of attack scores at or below ``threshold`` (accepted attacks)."""
    arr = _as_scores(attacks, "attack")
    return float(np.mean(arr <= threshold))


def calibrate_threshold(bona_fide: Sequence[float] | np.ndarray, target_bpcer: float) -> float:
    """The lowest threshold whose BPCER on ``bona_fide`` is ≤ ``target_bpcer`` (positive-only calibration).

    With ``n`` scores, at most ``floor(target·n)`` of them lie above the returned value, so the
    empirical BPCER never exceeds the target and falls short of it by less than ``1/n``.
    """
    if not 0.0 <= target_bpcer < 1.0:
        raise ValueError(f"target_bpcer must be in [0, 1), got {target_bpcer}")
    arr = np.sort(_as_scores(bona_fide, "bona fide"))
    n = arr.size
    allowed_above = math.floor(target_bpcer * n + 1e-9)
    return float(arr[n - 1 - allowed_above])


def threshold_for_apcer(attacks_by_type: Mapping[str, np.ndarray], target_apcer: float) -> float:
    """The highest threshold (fewest genuine rejections) at which every species' APCER is ≤ target.

    APCER(τ) grows with τ. With a species' sorted scores ``s``, at most ``k = floor(target·n)`` may
    lie at or below τ, so its largest admissible τ is just below ``s[k]``; the system must satisfy
    the worst species, hence the minimum over species.
    """
    best = math.inf
    for name, scores in attacks_by_type.items():
        arr = np.sort(_as_scores(scores, f"attack {name}"))
        k = math.floor(target_apcer * arr.size + 1e-9)
        tau = float(np.nextafter(arr[k], -np.inf)) if k < arr.size else math.inf
        best = min(best, tau)
    return best


def wilson_interval(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % (z = 1.96) Wilson score interval of an error rate measured on ``n`` independent trials.

    Pass the number of *independent* subjects: several captures of one face are not independent.
    """
    if n <= 0:
        raise ValueError("wilson_interval needs n ≥ 1")
    p = min(1.0, max(0.0, rate))
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def det_points(bona_fide: np.ndarray, attacks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(APCER, BPCER) at every distinct threshold, sorted by threshold, for a DET curve."""
    bona = np.sort(_as_scores(bona_fide, "bona fide"))
    att = np.sort(_as_scores(attacks, "attack"))
    taus = np.unique(np.concatenate([bona, att]))
    ap = np.searchsorted(att, taus, side="right") / att.size  # attacks ≤ τ
    bp = 1.0 - np.searchsorted(bona, taus, side="right") / bona.size  # bona fide > τ
    return ap, bp


@dataclass
class PadReport:
    """Every figure of one evaluation at one operating threshold."""

    threshold: float
    bpcer: float
    apcer: dict[str, float]
    apcer_worst: float
    worst_type: str
    acer: float
    bpcer_at_apcer: dict[str, float] = field(default_factory=dict)
    eer: float = float("nan")
    n_bona_fide: int = 0
    n_attacks: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """The flat keys the benchmark summary uses."""
        return {
            "threshold": self.threshold,
            "acer": self.acer,
            "apcer_worst": self.apcer_worst,
            "bpcer": self.bpcer,
            "bpcer_at_apcer5": self.bpcer_at_apcer.get("5%", float("nan")),
            "bpcer_at_apcer10": self.bpcer_at_apcer.get("10%", float("nan")),
            "eer": self.eer,
        }


def equal_error_rate(bona_fide: np.ndarray, attacks: np.ndarray) -> float:
    """Pooled-attack EER: where APCER and BPCER cross (mean of the two at the closest point)."""
    ap, bp = det_points(bona_fide, attacks)
    i = int(np.argmin(np.abs(ap - bp)))
    return float((ap[i] + bp[i]) / 2.0)


def pad_report(
    bona_fide: Sequence[float] | np.ndarray,
    attacks_by_type: Mapping[str, Sequence[float] | np.ndarray],
    threshold: float,
    apcer_targets: Sequence[float] = (0.05, 0.10),
) -> PadReport:
    """APCER per species and worst, BPCER, ACER at ``threshold``; BPCER at fixed worst-species APCER."""
    bona = _as_scores(bona_fide, "bona fide")
    att = {k: _as_scores(v, f"attack {k}") for k, v in attacks_by_type.items()}
    if not att:
        raise ValueError("no attack types to evaluate")
    per_type = {k: apcer(v, threshold) for k, v in att.items()}
    worst_type = max(per_type, key=lambda k: per_type[k])
    b = bpcer(bona, threshold)
    at_apcer = {}
    for target in apcer_targets:
        tau = threshold_for_apcer(att, target)
        at_apcer[f"{round(target * 100):d}%"] = bpcer(bona, tau)
    return PadReport(
        threshold=float(threshold),
        bpcer=b,
        apcer=per_type,
        apcer_worst=per_type[worst_type],
        worst_type=worst_type,
        acer=(per_type[worst_type] + b) / 2.0,
        bpcer_at_apcer=at_apcer,
        eer=equal_error_rate(bona, np.concatenate(list(att.values()))),
        n_bona_fide=int(bona.size),
        n_attacks={k: int(v.size) for k, v in att.items()},
    )
