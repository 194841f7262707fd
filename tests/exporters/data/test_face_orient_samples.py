"""The quarter-turn classifier's training crops: labels that match the cascade's hypotheses."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.exporters.data.face_orient_samples import OrientSampler, turn_label


def test_turn_label_is_the_offset_that_makes_the_crop_upright():
    assert turn_label(0.0, 0.0) == 0
    assert turn_label(90.0, 0.0) == 1  # the face stands at +90: the +90 hypothesis is upright
    assert turn_label(10.0, 100.0) == 3  # 100 - 90 ... +270 brings 100 to 370 = 10
    assert turn_label(0.0, 44.0) == 0 and turn_label(0.0, 46.0) == 3
    assert turn_label(-170.0, 0.0) == 2


def test_samples_are_24px_crops_with_every_turn(tmp_path):
    pytest.importorskip("skimage")
    sampler = OrientSampler(seed=3, photos=[])
    assert sampler.photo_faces == [] and len(sampler.lfw_faces) == 100
    sampler.photo_faces = sampler.lfw_faces  # no photographs here: LFW faces only
    crops, labels = sampler.batch(200)
    assert crops.shape == (200, 24, 24, 3) and crops.dtype == np.uint8
    assert set(labels.tolist()) == {0, 1, 2, 3}
    # Crops hold the face's pixels (the padding is reflected, never a constant border).
    crop, label = sampler.sample(sampler.lfw_faces[0])
    assert crop.std() > 5 and 0 <= label < 4
