from __future__ import annotations

import numpy as np
import pytest

from biogate.capture.radiometry import (
    BlackbodyReference,
    BlackbodyTracker,
    apparent_temperature,
    blackbody_correct,
    celsius_to_centikelvin,
    centikelvin_to_celsius,
    fit_blackbody,
    object_temperature,
    roi_stats,
    spot_meter,
)
from biogate.errors import ConfigError


def test_centikelvin_round_trip():
    ck = np.array([[27315, 31015, 30965]], np.uint16)
    c = centikelvin_to_celsius(ck)
    assert c.dtype == np.float32
    assert np.allclose(c, [[0.0, 37.0, 36.5]], atol=1e-4)
    assert np.array_equal(celsius_to_centikelvin(c), ck)
    assert np.allclose(centikelvin_to_celsius(np.array([3101], np.uint16), scale=0.1), [36.95], atol=1e-4)


def test_emissivity_inverse_and_direction():
    obj = np.array([36.0, 30.0], np.float32)
    app = apparent_temperature(obj, 0.98, 20.0)
    assert np.all(app < obj)  # a grey body in cooler surroundings reads low
    assert np.allclose(object_temperature(app, 0.98, 20.0), obj, atol=1e-3)
    assert object_temperature(app, 1.0) is not None
    with pytest.raises(ConfigError):
        object_temperature(app, 0.0)


def _scene(offset=1.5, gain=1.0):
    img = np.full((40, 40), 22.0, np.float32)
    img[30:36, 30:36] = 35.0
    img[2:8, 30:36] = 25.0
    return gain * img + offset


def test_one_point_offset_and_two_point_gain():
    refs = [BlackbodyReference((30, 30, 6, 6), 35.0)]
    corrected, fit = blackbody_correct(_scene(offset=1.5), refs)
    assert fit.ok and abs(fit.offset_c + 1.5) < 1e-5 and np.allclose(corrected, _scene(offset=0.0), atol=1e-4)
    two = [*refs, BlackbodyReference((30, 2, 6, 6), 25.0)]
    corrected, fit = blackbody_correct(_scene(offset=0.8, gain=0.95), two)
    assert abs(fit.gain - 1 / 0.95) < 1e-4
    assert np.allclose(corrected, _scene(offset=0.0), atol=1e-3)


def test_occluded_reference_is_held_and_drift_reported():
    refs = [BlackbodyReference((30, 30, 6, 6), 35.0)]
    tracker = BlackbodyTracker(refs, smoothing=1.0)
    fit, meta = tracker.update(_scene(offset=1.0), 0)
    assert meta["ok"] and meta["drift_offset_c"] == 0.0
    occluded = _scene(offset=1.0)
    occluded[30:33, 30:36] = 30.0  # a hand in front of the blackbody
    fit, meta = tracker.update(occluded, 10**9)
    assert not meta["ok"] and meta["held"] and "not uniform" in meta["reason"]
    assert abs(fit.offset_c + 1.0) < 1e-5  # last good fit kept
    fit, meta = tracker.update(_scene(offset=1.3), 60 * 10**9)
    assert abs(meta["drift_offset_c"] + 0.3) < 1e-4 and abs(meta["drift_c_per_min"] + 0.3) < 1e-3


def test_roi_checks_and_stats():
    img = np.arange(100, dtype=np.float32).reshape(10, 10)
    stats = roi_stats(img, (0, 0, 2, 2))
    assert stats["min"] == 0 and stats["max"] == 11 and stats["mean"] == 5.5
    assert spot_meter(img, size=2)["roi"] == [4, 4, 2, 2]
    with pytest.raises(ConfigError, match="does not fit"):
        roi_stats(img, (8, 8, 4, 4))
    with pytest.raises(ConfigError, match="at least one reference"):
        fit_blackbody(img, [])
    flat = np.full((10, 10), 30.0, np.float32)
    refs = [BlackbodyReference((0, 0, 2, 2), 35.0), BlackbodyReference((5, 5, 2, 2), 25.0)]
    fit = fit_blackbody(flat, refs)
    assert not fit.ok and "differ by at least" in fit.reason and fit.gain == 1.0 and fit.offset_c == 0.0
