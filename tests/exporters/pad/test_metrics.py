"""ISO/IEC 30107-3 metrics and positive-only threshold calibration on synthetic score sets."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.exporters.pad.metrics import (
    apcer,
    bpcer,
    calibrate_threshold,
    det_points,
    pad_report,
    threshold_for_apcer,
    wilson_interval,
)


@pytest.mark.parametrize("target", [0.01, 0.05, 0.10, 0.2])
@pytest.mark.parametrize("n", [20, 137, 1000])
def test_calibration_hits_its_target_bpcer(target: float, n: int) -> None:
    scores = np.random.default_rng(n).gamma(2.0, 0.01, size=n)
    tau = calibrate_threshold(scores, target)
    achieved = bpcer(scores, tau)
    assert achieved <= target + 1e-12
    assert achieved > target - 1.0 / n  # as close to the target as n samples allow
    # a fresh draw from the same distribution lands near the target (large n only)
    if n == 1000:
        fresh = np.random.default_rng(99).gamma(2.0, 0.01, size=20000)
        assert abs(bpcer(fresh, tau) - target) < 0.02


def test_calibration_with_ties_and_bad_input() -> None:
    scores = np.array([1.0, 1.0, 1.0, 2.0])
    assert calibrate_threshold(scores, 0.25) == 1.0 and bpcer(scores, 1.0) == 0.25
    assert calibrate_threshold(scores, 0.0) == 2.0  # nothing may be rejected
    with pytest.raises(ValueError, match="target_bpcer"):
        calibrate_threshold(scores, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        calibrate_threshold([0.1, float("nan")], 0.1)


def test_report_on_a_hand_made_case() -> None:
    bona = np.array([0.1, 0.2, 0.3, 0.4, 0.9])  # one genuine above 0.5
    attacks = {"print": np.array([0.6, 0.7, 0.8, 0.2]), "replay": np.array([0.55, 0.65])}
    rep = pad_report(bona, attacks, threshold=0.5)
    assert rep.bpcer == pytest.approx(0.2)
    assert rep.apcer == {"print": pytest.approx(0.25), "replay": 0.0}
    assert rep.worst_type == "print" and rep.apcer_worst == pytest.approx(0.25)
    assert rep.acer == pytest.approx((0.25 + 0.2) / 2)
    # APCER ≤ 5 %/10 % on 4 print attacks means none accepted: τ sits just below 0.2,
    # so only the genuine 0.1 passes and BPCER is 4/5
    assert rep.bpcer_at_apcer["5%"] == pytest.approx(0.8) and rep.bpcer_at_apcer["10%"] == pytest.approx(0.8)
    s = rep.summary()
    assert {"acer", "apcer_worst", "bpcer", "bpcer_at_apcer10"} <= set(s)


def test_threshold_for_apcer_meets_the_target_on_every_species() -> None:
    rng = np.random.default_rng(3)
    att = {"a": rng.normal(1.0, 0.2, 200), "b": rng.normal(0.7, 0.3, 50)}
    for target in (0.05, 0.10):
        tau = threshold_for_apcer(att, target)
        assert max(apcer(v, tau) for v in att.values()) <= target
        # and it is the highest such τ: the next representable score up breaks the target somewhere
        above = min(v[v > tau].min() for v in att.values())
        assert max(apcer(v, above) for v in att.values()) > target


def test_det_points_are_monotone() -> None:
    rng = np.random.default_rng(0)
    ap, bp = det_points(rng.normal(0, 1, 300), rng.normal(2, 1, 200))
    assert np.all(np.diff(ap) >= 0) and np.all(np.diff(bp) <= 0)
    assert ap[-1] == 1.0 and bp[-1] == 0.0


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(0.05, 22)
    assert lo < 0.05 < hi and hi > 0.2  # 22 faces cannot pin a 5 % rate down
    lo, hi = wilson_interval(0.0, 1000)
    assert lo == 0.0 and hi < 0.005
    assert wilson_interval(0.5, 100) == pytest.approx((0.4038, 0.5962), abs=1e-3)
    with pytest.raises(ValueError):
        wilson_interval(0.1, 0)
