"""Focus and motion blur: how sharp each simulated frame is, and the blur itself.

The frame-selection tests and demos need streams whose sharpest frame is known. Every simulated
camera here blurs with one Gaussian (:func:`defocus`) and takes its blur from one of three
schedules:

* :func:`focus_cycle` — an autofocus that hunts: sigma rises and falls smoothly with a period
  (``synthetic://face``);
* :func:`focus_sweep` — a sweep through focus: sigma falls linearly to 0 at one frame, then rises
  (``biogate demo --select``);
* :func:`motion_blur_every` — a moment of motion every n-th frame of an otherwise sharp stream
  (``synthetic://walkup``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Below this sigma a Gaussian changes nothing a sharpness score can see: the frame stays sharp.
MIN_SIGMA = 0.3


def defocus(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` blurred by a Gaussian of ``sigma`` pixels (the same array when ``sigma <= 0``)."""
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigma)


def focus_cycle(index: int, period: int, max_sigma: float, phase: float = 0.0) -> float:
    """Blur sigma of frame ``index`` of a focus that hunts between sharp (0) and ``max_sigma``."""
    return 0.5 * max_sigma * (1.0 - math.cos(2 * math.pi * (index / float(period) + phase)))


def focus_sweep(index: int, focus_at: int, rate: float = 0.35) -> float:
    """Blur sigma of frame ``index`` of a sweep that is sharp exactly at ``focus_at``."""
    return round(abs(index - focus_at) * rate, 2)


def motion_blur_every(index: int, every: int = 5, sigma: float = 3.0) -> float:
    """``sigma`` on every ``every``-th frame (a moment of motion the sharpness gate must reject), else 0."""
    return sigma if every > 0 and index % every == every - 1 else 0.0


__all__ = ["MIN_SIGMA", "defocus", "focus_cycle", "focus_sweep", "motion_blur_every"]
