"""Face scenes: the drawn face is deterministic and moves; a face image is placed where asked."""

from __future__ import annotations

import numpy as np

from biogate.sim.face import clutter, place_face, render_face


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
