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


def test_skin_reads_its_grey_body_apparent_temperature_through_the_shared_exposure():
    """A perfect sensor (no offset, gain or noise) reads skin at the truth's apparent temperature."""
    opts = {
        "noise_c": 0.0,
        "ffc_period": 0,
        "sensor_offset_c": 0.0,
        "sensor_gain": 1.0,
        "drift_c_per_frame": 0.0,
    }
    raw, truth = render_thermal(0, skin_c=34.0, **opts)
    x, y, w, h = truth["face_box"]
    cheek = centikelvin_to_celsius(raw[y + h // 2 : y + h // 2 + 4, x + w // 4 : x + w // 4 + 4])
    assert np.allclose(cheek, truth["skin_apparent_c"], atol=0.006)
    assert truth["skin_apparent_c"] < 34.0  # ε = 0.98 reflecting a cooler room reads below the skin
