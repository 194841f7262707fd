"""Alignment geometry without dlib: similarity fit, chip placement, input kinds and bad landmarks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.models.align import (
    DLIB5_TEMPLATE,
    MTCNN5_TEMPLATE,
    chip_geometry,
    extract_chip,
    similarity_transform,
)


def _similar(points, scale, angle, shift):
    c, s = math.cos(angle), math.sin(angle)
    return points @ (scale * np.array([[c, -s], [s, c]])).T + shift


def test_similarity_transform_recovers_a_known_transform():
    src = np.random.default_rng(0).uniform(0, 100, (5, 2))
    dst = _similar(src, 1.7, 0.4, np.array([12.0, -3.0]))
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(src @ m[:, :2].T + m[:, 2], dst, atol=1e-9)
    with pytest.raises(ConfigError, match="degenerate"):
        similarity_transform(np.ones((5, 2)), dst)


@pytest.mark.parametrize("scheme", ["dlib5", "mtcnn5"])
def test_landmarks_land_on_the_template(scheme):
    template = {"dlib5": DLIB5_TEMPLATE, "mtcnn5": MTCNN5_TEMPLATE}[scheme]
    size, padding = 150, 0.25
    chip_pts = (padding + template) / (1 + 2 * padding) * size
    # Paint a dot at each template point of a rotated, scaled face in a large image.
    marks = _similar(chip_pts, 1.3, 0.3, np.array([200.0, 120.0]))
    image = np.zeros((480, 640, 3), np.uint8)
    for xi, yi in np.rint(marks).astype(int):
        image[yi - 2 : yi + 3, xi - 2 : xi + 3] = 255
    chip = extract_chip(image, marks, size, padding, scheme)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
    for x, y in chip_pts:  # each dot arrives where the template puts it (within resampling blur)
        patch = chip[int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4, 0]
        assert patch.max() > 100
    _, angle = chip_geometry(marks, size, padding, scheme)
    assert angle == pytest.approx(0.3, abs=1e-6)


def test_grey_16_bit_and_float_inputs_give_the_same_chip():
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (200, 200), dtype=np.uint8)
    marks = (0.25 + DLIB5_TEMPLATE) / 1.5 * 150 + 20
    a = extract_chip(grey, marks)
    b = extract_chip(grey.astype(np.uint16) * 257, marks)
    c = extract_chip(grey.astype(np.float32) / 255.0, marks)
    assert a.shape == (150, 150, 3) and (a[:, :, 0] == a[:, :, 1]).all()
    assert np.abs(a.astype(int) - b).max() <= 1 and np.abs(a.astype(int) - c).max() <= 1


def test_bad_landmarks_and_images():
    image = np.zeros((100, 100, 3), np.uint8)
    good = (0.25 + DLIB5_TEMPLATE) / 1.5 * 80
    with pytest.raises(ConfigError, match="5 finite"):
        extract_chip(image, good[:4])
    with pytest.raises(ConfigError, match="5 finite"):
        extract_chip(image, np.where(np.eye(5, 2) > 0, np.nan, good))
    with pytest.raises(ConfigError, match="scheme"):
        extract_chip(image, good, scheme="dlib68")
    with pytest.raises(ConfigError, match="outside the image"):
        extract_chip(image, good + 5000)
    with pytest.raises(ConfigError, match="shape"):
        extract_chip(np.zeros((10, 10, 2), np.uint8), good)
