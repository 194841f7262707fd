"""synthetic://xray's frames: the palm simulator's hand, dense = bright, posed per frame."""

from __future__ import annotations

import numpy as np

from biogate.sim.xray_frames import render_xray


def test_one_hand_per_seed_posed_differently_per_frame():
    a, truth = render_xray(0, seed=1, width=240, height=300)
    b, truth_b = render_xray(3, seed=1, width=240, height=300)
    assert a.dtype == np.uint16 and a.shape == (300, 240)
    assert truth["hand_box"] == truth_b["hand_box"] and truth["joints"] == 19  # same hand: 5 rays
    assert not np.array_equal(a, b)
    x, y, w, h = truth["hand_box"]
    assert float(np.percentile(a[y : y + h, x : x + w], 99)) > float(np.median(a[:10, :10])) + 20000
