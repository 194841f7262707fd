"""Blur schedules and the one defocus: sharp exactly where the schedule says."""

from __future__ import annotations

import numpy as np

from biogate.sim.focus import defocus, focus_cycle, focus_sweep, motion_blur_every


def test_schedules():
    assert focus_cycle(0, 60, 4.0) == 0.0 and abs(focus_cycle(30, 60, 4.0) - 4.0) < 1e-9
    assert [focus_sweep(i, 3) for i in range(5)] == [1.05, 0.7, 0.35, 0.0, 0.35]
    assert [motion_blur_every(i, 5) for i in range(10)] == [0, 0, 0, 0, 3.0, 0, 0, 0, 0, 3.0]


def test_defocus_blurs_only_for_a_positive_sigma():
    image = np.zeros((32, 32), np.uint8)
    image[16, 16] = 255
    assert defocus(image, 0.0) is image
    blurred = defocus(image, 2.0)
    assert blurred[16, 16] < 255 and blurred[16, 18] > 0
