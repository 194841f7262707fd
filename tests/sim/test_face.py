"""Face scenes: the drawn face is deterministic and moves; a face image is placed where asked."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.sim.face import FaceComposer, clutter, place_face, render_face


def test_render_face_is_deterministic_with_its_box_in_truth():
    a, truth = render_face(7, seed=2)
    assert np.array_equal(a, render_face(7, seed=2)[0]) and a.shape == (480, 640, 3)
    x, y, w, h = truth["face_box"]
    assert render_face(40, seed=2)[1]["face_box"] != truth["face_box"]
    assert float(a[y : y + h, x : x + w].std()) > 10  # a textured face, not a flat patch


def test_place_face_puts_the_face_square_at_the_offset():
    room = clutter(0, 160, 120)
    face = np.full((50, 50, 3), 255, np.uint8)
    frame = place_face(room, face, 40, (10, -5))
    x0, y0 = (160 - 40) // 2 + 10, (120 - 40) // 2 - 5
    assert (frame[y0 : y0 + 40, x0 : x0 + 40] == 255).all()
    assert np.array_equal(frame[:10, :10], room[:10, :10]) and room is not frame


def _checker_face(side: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A high-contrast crop whose whole square is the face quad."""
    board = ((np.indices((side, side)) // 16).sum(0) % 2 * 255).astype(np.uint8)
    quad = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32)
    return np.dstack([board] * 3), quad


def test_face_composer_labels_the_faces_it_pastes_and_is_a_function_of_its_seed():

    faces = [_checker_face()]
    first = FaceComposer(faces, seed=5, canvas=160)
    samples = [first.sample() for _ in range(12)]
    again = FaceComposer(faces, seed=5, canvas=160)
    for image, boxes, quads in samples:
        image2, boxes2, quads2 = again.sample()
        assert (
            np.array_equal(image, image2) and np.array_equal(boxes, boxes2) and np.array_equal(quads, quads2)
        )
        assert image.shape == (160, 160, 3) and image.dtype == np.uint8 and 1 <= len(boxes) <= 3
        np.testing.assert_allclose(boxes[:, :2], quads.min(1))
        np.testing.assert_allclose(boxes[:, 2:], quads.max(1))
        for x0, y0, x1, y1 in boxes:
            if x1 - x0 < 40 or x0 < 0 or y0 < 0 or x1 > 160 or y1 > 160:
                continue
            cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 6
            centre = image[int(cy - r) : int(cy + r), int(cx - r) : int(cx + r)].astype(np.float32)
            assert centre.std() > 40  # the checkerboard landed where the label says (a gradient is flat)


def test_face_composer_needs_a_face():

    with pytest.raises(ConfigError, match="faces is empty"):
        FaceComposer([])
