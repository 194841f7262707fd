"""Seed-003 data: per-identity average faces, identity-disjoint split, augmentation geometry."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.exporters.audit.data import (
    _mirror,
    average_faces,
    identity_views,
    split_identities,
    to_chips,
    to_target,
)
from biogate.exporters.data.face_data import FaceSample


def test_average_face_is_the_pixel_mean_per_identity() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((7, 3, 4, 4)).astype(np.float32)
    labels = np.array([2, 0, 2, 1, 0, 2, 1])
    faces = average_faces(images, labels)
    assert faces.shape == (3, 3, 4, 4)
    for k in range(3):
        np.testing.assert_allclose(faces[k], images[labels == k].mean(0), rtol=1e-6)
    # an identity without images stays zero instead of dividing by zero
    assert not average_faces(images, labels, n_labels=4)[3].any()


def test_split_is_identity_disjoint_stratified_and_deterministic() -> None:
    kinds = ["photo"] * 9 + ["lfw"] * 100
    train, test = split_identities(kinds, 0.3, seed=0)
    assert not set(train) & set(test)
    assert sorted([*train, *test]) == list(range(109))
    assert sum(kinds[i] == "photo" for i in test) == 3 and sum(kinds[i] == "lfw" for i in test) == 30
    again = split_identities(kinds, 0.3, seed=0)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    assert not np.array_equal(split_identities(kinds, 0.3, seed=1)[1], test)
    with pytest.raises(ValueError):
        split_identities(kinds, 1.0)


def _face() -> FaceSample:
    image = np.zeros((60, 60, 3), np.uint8)
    image[:, :20] = 200  # a bright left side to see the mirror
    marks = np.array([[40, 25], [34, 25], [20, 25], [26, 25], [30, 40]], np.float32)
    return FaceSample(image, "x", "test", (10.0, 10.0, 50.0, 50.0), marks)


def test_mirror_swaps_the_eyes_and_is_an_involution() -> None:
    face = _face()
    m = _mirror(face)
    assert m.image[:, -20:].min() == 200 and m.image[:, :20].max() == 0
    # the landmark on the image's right (index 0) is still on the right after mirroring
    assert m.landmarks[0, 0] > m.landmarks[2, 0]
    back = _mirror(m)
    np.testing.assert_allclose(back.landmarks, face.landmarks)
    assert np.array_equal(back.image, face.image)


def test_identity_views_keep_the_identity_and_the_original_first() -> None:
    face = _face()
    views = identity_views(face, 5, seed=3)
    assert len(views) == 6 and views[0] is face
    assert {v.identity for v in views} == {"x"}
    assert all(v.image.shape == face.image.shape and v.image.dtype == np.uint8 for v in views)


def test_target_and_chip_conversions() -> None:
    chips = np.random.default_rng(1).integers(0, 256, (2, 150, 150, 3), dtype=np.uint8)
    target = to_target(chips)
    assert target.shape == (2, 3, 128, 128) and target.min() >= 0 and target.max() <= 1
    back = to_chips(target)
    assert back.shape == (2, 150, 150, 3) and back.dtype == np.uint8
