"""synthetic://walkup: an RGB camera over a visitors folder and the thermal camera it triggers."""

from __future__ import annotations

import pytest

import biogate
from biogate.errors import ConfigError
from tests.sim.test_walkup import visitors_folder


def test_thermal_frames_pair_with_the_rgb_frames_that_show_a_visitor(tmp_path):
    folder = visitors_folder(tmp_path, n=2)
    uri = f"synthetic://walkup?folder={folder}&fps=0&dwell_s=0.5&gap_s=0.2"
    thermal = biogate.open_source(uri + "&channel=thermal", latest=False, queue_size=0)
    with biogate.open_source(uri, latest=False) as rgb:
        frames = list(rgb)
        segments = rgb.segments
    pairs = []
    while True:
        frame = thermal.read(timeout=5.0)
        if frame is None:
            break
        pairs.append(frame)
    thermal.close()
    shown = [f for f in frames if "label" in f.meta["truth"]]
    # Unpaced (fps=0), the script keeps its 15 fps timing: 7 frames of dwell and 3 of gap each.
    assert len(frames) == 2 * (7 + 3) and len(shown) == 2 * 7
    assert [f.t_capture for f in pairs] == [f.t_capture for f in shown]  # one exposure each, same time
    assert all(f.format == "y16" and f.meta["ambient_c"] == 22.0 for f in pairs)
    assert [v.label for _, _, v in segments] == ["enrolled", "stranger"]
    assert segments[0][1] < segments[1][0]


def test_walkup_needs_its_folder(tmp_path):
    with pytest.raises(ConfigError, match="needs folder=DIR"):
        biogate.open_source("synthetic://walkup")
    with pytest.raises(ConfigError, match=r"walkup\.json does not exist"):
        biogate.open_source(f"synthetic://walkup?folder={tmp_path}")
    with pytest.raises(ConfigError, match="channel"):
        biogate.open_source(f"synthetic://walkup?folder={tmp_path}&channel=infrared")
