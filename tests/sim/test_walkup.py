"""The walk-up simulator: the visitors folder round trip, its errors, and the script as frames."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.sim.walkup import (
    FACE_SIDE,
    FRAME_H,
    FRAME_W,
    Visitor,
    WalkupScene,
    load_visitors,
    write_visitors,
)


def _face(value: int) -> np.ndarray:
    face = np.full((200, 200, 3), value, np.uint8)
    face[60:80, 50:150] = 255 - value  # some structure, so the frames are not flat
    return face


def visitors_folder(folder, n: int = 3):
    script = [
        Visitor("enrolled", "ada", True, "open", views=(_face(40), _face(50)), enrol=_face(45)),
        Visitor("stranger", "bob", False, "deny", views=(_face(90),)),
        Visitor("print of ada", "ada", True, "deny", attack="print_photo", views=(_face(140),)),
    ][:n]
    return write_visitors(folder, script, np.full((FRAME_H, FRAME_W, 3), 20, np.uint8))


def test_visitors_round_trip_and_selection(tmp_path):
    loaded = load_visitors(visitors_folder(tmp_path))
    assert [v.label for v in loaded.visitors] == ["enrolled", "stranger", "print of ada"]
    assert (
        np.array_equal(loaded.visitors[0].views[1], _face(50)) and loaded.visitors[2].attack == "print_photo"
    )
    assert [v.label for v in loaded.select("genuine")] == ["enrolled", "stranger"]
    assert [v.label for v in loaded.select("enrolled", count=3)] == ["enrolled"] * 3
    assert list(loaded.enrolment()) == ["ada"] and np.array_equal(loaded.enrolment()["ada"][1], _face(45))
    with pytest.raises(ConfigError, match="valid: all, genuine, enrolled"):
        loaded.select("everyone")


def test_a_broken_folder_is_one_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"walkup\.json does not exist.*biogate demo --prepare"):
        load_visitors(tmp_path)
    folder = visitors_folder(tmp_path / "v")
    (folder / "0-ada-view1.png").unlink()
    with pytest.raises(ConfigError, match=r"0-ada-view1\.png: visitors\[0\] view is missing"):
        load_visitors(folder)
    doc = json.loads((folder / "walkup.json").read_text())
    doc["visitors"][0]["views"] = ["../../etc/passwd"]
    (folder / "walkup.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="must be a file name in the folder"):
        load_visitors(folder)


def test_the_script_as_frames(tmp_path):
    loaded = load_visitors(visitors_folder(tmp_path, n=2))
    scene = WalkupScene(loaded.visitors, loaded.background, fps=10, dwell_s=1.0, gap_s=0.3, seed=1)
    shots = list(scene.shots())
    assert len(shots) == scene.frames == 2 * (10 + 3)
    who = [s.truth["visitor"] for s in shots]
    assert who == [0] * 13 + [1] * 13
    present = [s for s in shots if s.visitor is not None]
    assert len(present) == 20 and all(s.image.shape == (FRAME_H, FRAME_W, 3) for s in present)
    assert [s.truth["blur_sigma"] > 0 for s in present[:10]] == [False] * 4 + [True] + [False] * 4 + [True]
    centre = present[0].image[FRAME_H // 2 - 5 : FRAME_H // 2 + 5, FRAME_W // 2 - 5 : FRAME_W // 2 + 5]
    assert centre.mean() > 20 and FACE_SIDE < FRAME_H  # the face is placed in the room
    paper = WalkupScene.thermal(next(s for s in present if s.visitor.label == "stranger"))
    assert paper.dtype == np.uint16 and paper.shape == (120, 160)
    with pytest.raises(ConfigError, match="no visitor"):
        WalkupScene.thermal(shots[-1])
