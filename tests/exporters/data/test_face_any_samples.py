"""Training samples of the any-orientation proposal net: labels follow the face through the cut."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biogate.exporters.data.face_any_samples import Sampler
from biogate.exporters.data.face_detect_data import DetectPhoto, roll_degrees, rolled_quads
from biogate.models.face_any_geometry import STRIDE, UNIT


def _astronaut() -> DetectPhoto:
    import skimage.data

    box = np.array([[165, 73, 263, 171]], np.float32)
    marks = [[(255, 104), (238, 105), (195, 101), (212, 103), (224, 135)]]  # dlib5 order
    quads = rolled_quads(box, [roll_degrees(marks[0], "dlib5")])
    boxes = np.concatenate([quads.min(1), quads.max(1)], 1)
    return DetectPhoto(skimage.data.astronaut(), boxes, quads, np.zeros((0, 4), np.float32), "astronaut")


def test_roll_is_measured_on_the_eye_line():
    assert roll_degrees([(30, 10), (28, 10), (10, 10), (12, 10), (20, 20)], "dlib5") == pytest.approx(0.0)
    # MTCNN order: image-left eye, image-right eye; the right eye higher = turned counter-clockwise.
    assert roll_degrees([(10, 20), (30, 0), (20, 15), (12, 30), (32, 10)], "mtcnn5") == pytest.approx(45.0)


@pytest.mark.parametrize("angle", [0.0, 90.0, 200.0])
def test_face_cells_carry_the_turned_centre_size_and_angle(angle):
    photo = _astronaut()
    sampler = Sampler(seed=1, photos=[photo])
    centre = photo.quads[0].mean(0)
    side = float(np.linalg.norm(photo.quads[0][1] - photo.quads[0][0]))
    scale = 18.0 / side
    canvas, faces, _, valid = sampler._from_photo(0, angle, scale, tuple(centre))
    t = sampler._targets(faces, [], valid)
    assert canvas.shape == (64, 64, 3) and t.score.shape == (16, 16)
    ys, xs = np.nonzero(t.score)
    assert len(ys) >= 1
    cell = np.stack([xs, ys], 1) * STRIDE + STRIDE / 2.0
    found = cell + t.reg[:2, ys, xs].T * UNIT
    assert np.allclose(found, 32.0, atol=0.6)  # the face centre, from every positive cell
    assert np.allclose(np.exp(t.reg[2, ys, xs]) * UNIT, 18.0, rtol=1e-3)
    roll = roll_degrees([(255, 104), (238, 105), (195, 101), (212, 103), (224, 135)], "dlib5")
    want = math.radians(angle + roll)
    assert np.allclose(t.reg[3, ys, xs], math.cos(want), atol=1e-5)
    assert np.allclose(t.reg[4, ys, xs], math.sin(want), atol=1e-5)
    assert (t.weight == 1).sum() > 150  # the rest of the photograph in the canvas: background


def test_hard_negatives_are_never_mined_inside_ignore_regions():
    # An ignore region holds faces nobody labelled (a crowd): a strong response there may be a
    # face, and mining it would teach a face as background.
    torch = pytest.importorskip("torch")
    from biogate.exporters.training.train_face_detect_any import mine

    class Everywhere(torch.nn.Module):  # a proposal net sure of a face in every cell
        def forward(self, x):
            out = torch.zeros(x.shape[0], 6, x.shape[2] // STRIDE, x.shape[3] // STRIDE)
            out[:, 0], out[:, 4] = 8.0, 1.0
            return out

    photo = _astronaut()
    h, w = photo.image.shape[:2]
    sampler = Sampler(seed=1, photos=[photo])
    sampler.scenes = []
    assert mine(Everywhere(), sampler)  # away from the face: negatives
    ignored = DetectPhoto(photo.image, photo.boxes, photo.quads, np.array([[0, 0, w, h]], np.float32), "a")
    sampler.photos = [ignored]
    assert mine(Everywhere(), sampler) == []
