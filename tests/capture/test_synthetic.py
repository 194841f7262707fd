"""synthetic:// streams: deterministic, with ground truth that the measurements reproduce."""

from __future__ import annotations

import numpy as np

import biogate
from biogate.sharpness import sharpness
from biogate.sim.face import render_face
from biogate.sim.thermal import render_thermal
from biogate.sim.xray_frames import render_xray


def _frames(uri, **opts):
    with biogate.open_source(uri, latest=False, fps=0, **opts) as src:
        return list(src)


def test_face_is_deterministic_and_blur_truth_matches_sharpness():
    a = _frames("synthetic://face?frames=30&seed=3")
    b = _frames("synthetic://face?frames=30&seed=3")
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    assert not np.array_equal(a[0].image, _frames("synthetic://face?frames=1&seed=4")[0].image)
    sigmas = np.array([f.meta["truth"]["blur_sigma"] for f in a])
    assert sigmas.max() > 3.0 and sigmas.min() < 0.5  # in and out of focus within the clip
    scores = np.array([sharpness(f.gray(), "laplacian") for f in a])
    # sharper frames (smaller sigma) must score higher: strong negative rank correlation
    rank = np.corrcoef(np.argsort(np.argsort(sigmas)), np.argsort(np.argsort(scores)))[0, 1]
    assert rank < -0.9
    boxes = {tuple(f.meta["truth"]["face_box"]) for f in a}
    assert len(boxes) > 10  # the face moves


def test_thermal_ground_truth_is_recovered_with_blackbody_and_emissivity():
    frames = _frames("synthetic://thermal?frames=20&emissivity=0.98&reflected_c=22")
    f = frames[-1]
    truth = f.meta["truth"]
    assert f.format == "celsius32" and f.image.dtype == np.float32
    x, y, w, h = truth["face_box"]
    cheek = f.image[y + int(h * 0.5) : y + int(h * 0.5) + 4, x + w // 4 : x + w // 4 + 4]
    assert abs(float(np.median(cheek)) - truth["skin_c"]) < 0.15
    assert truth["blackbody_c"] == 35.0
    expected_offset = 35.0 - (truth["sensor_gain"] * 35.0 + truth["sensor_offset_c"])
    assert f.meta["blackbody"]["ok"] and abs(f.meta["blackbody"]["offset_c"] - expected_offset) < 0.05
    # without correction the same pixel is off by the simulated sensor error
    raw = _frames("synthetic://thermal?frames=20&correct=0&emissivity=0.98&reflected_c=22")[-1]
    raw_cheek = raw.image[y + int(h * 0.5) : y + int(h * 0.5) + 4, x + w // 4 : x + w // 4 + 4]
    assert abs(float(np.median(raw_cheek)) - truth["skin_c"]) > 0.7


def test_thermal_two_point_correction_removes_gain_error():
    tr = render_thermal(0)[1]
    bb, r2 = tr["blackbody_roi"], tr["reference2_roi"]
    opts = {
        "blackbody": ",".join(map(str, bb)),
        "blackbody_c": 35,
        "blackbody2": ",".join(map(str, r2)),
        "blackbody2_c": 25,
        "blackbody_smoothing": 1.0,
    }
    f = _frames("synthetic://thermal?frames=5", **opts)[-1]
    assert abs(f.meta["blackbody"]["gain"] - 1 / 0.97) < 0.01
    wall = f.image[60:64, 100:104]  # ambient wall at ~22 °C apparent, far from both set points
    assert abs(float(wall.mean()) - 22.0) < 0.3


def test_thermal_ffc_freeze_is_flagged_exactly_where_truth_says():
    frames = _frames("synthetic://thermal?frames=285&ffc_period=270")
    flagged = [f.meta["index"] for f in frames if f.meta["ffc"]]
    truth = [f.meta["index"] for f in frames if f.meta["truth"]["ffc"]]
    assert flagged == truth == [270, 271, 272, 273]
    assert not frames[275].meta["measurable"]  # still settling after the FFC
    assert frames[280].meta["measurable"]


def test_y16_thermal_is_centikelvin():
    f = _frames("synthetic://thermal?frames=1&format=y16")[0]
    assert f.format == "y16"
    bx, by, bw, bh = f.meta["truth"]["blackbody_roi"]
    expected = 0.97 * 35.0 + 1.8 + 273.15
    assert abs(float(f.image[by : by + bh, bx : bx + bw].mean()) / 100.0 - expected) < 0.05


def test_xray_is_a_palm_with_dense_bright_bones():
    f = _frames("synthetic://xray?frames=2")[0]
    assert f.format == "xray16" and f.image.shape == (600, 480)
    x, y, w, h = f.meta["truth"]["hand_box"]
    background = float(np.median(f.image[:40, :40]))
    inside = f.image[y : y + h, x : x + w]
    assert float(np.percentile(inside, 99)) > background + 20000  # bone
    assert f.meta["truth"]["joints"] >= 14
    assert np.array_equal(render_xray(5)[0], render_xray(5)[0])
    assert render_face(0)[0].shape == (480, 640, 3)


def test_paced_stream_timestamps_follow_the_clock():
    with biogate.open_source("synthetic://face?fps=200&frames=6&width=64&height=48", latest=False) as src:
        stamps = [f.t_capture for f in src]
        missed = src.stats().get("ticks_missed", 0)
    periods = np.diff(stamps) / 1e6 / 5.0
    # Stamps sit on the 5 ms clock; a CPU-starved producer skips whole ticks and counts them.
    assert np.allclose(periods, np.round(periods), atol=0.002) and np.all(np.round(periods) >= 1)
    assert int(np.round(periods).sum()) - len(periods) == missed
