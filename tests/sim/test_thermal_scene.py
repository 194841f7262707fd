"""The Lepton scene: its references sit where thermal_layout says, at their set points."""

from __future__ import annotations

import numpy as np

from biogate.capture.radiometry import centikelvin_to_celsius
from biogate.sim.thermal import render_thermal, thermal_layout


def test_references_and_skin_truth():
    raw, truth = render_thermal(5, seed=3, skin_c=36.0, noise_c=0.0, ffc_period=0)
    x, y, w, h = thermal_layout(160, 120)["blackbody"]
    assert list(truth["blackbody_roi"]) == [x, y, w, h]
    reading = float(centikelvin_to_celsius(raw[y : y + h, x : x + w]).mean())
    assert abs(reading - (truth["sensor_gain"] * 35.0 + truth["sensor_offset_c"])) < 0.02
    assert truth["skin_c"] == 36.0 and truth["canthus_c"] == 37.0 and not truth["ffc"]
    assert raw.dtype == np.uint16
