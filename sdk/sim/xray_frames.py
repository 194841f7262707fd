"""The X-ray detector stream of ``synthetic://xray``: the palm simulator's hand, frame after frame.

One live hand per seed comes from :mod:`biogate.sim.xray` (the same skeleton, tissues and 40 keV
attenuation as the palm scanner's training data), rendered once on a grid the size of the frame.
Each frame then poses it a little differently (a few degrees, a few pixels), draws Poisson quanta
and writes a 16-bit image with dense = bright, as a detector's MONOCHROME2 export. The truth holds
the hand's box and its joint count (one at the base of every bone of every ray).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Dict

import cv2
import numpy as np

from .xray import KINDS, LIVE_KIND, ScanConfig, _live_line_integral, sample_hand

Truth = Dict[str, Any]

#: Field of view (mm) across the longer side of the frame: the whole hand and the wrist fit.
FOV_MM = 300.0
#: Open-beam quanta per pixel of the stream's detector.
QUANTA = 4000.0


@functools.lru_cache(maxsize=4)
def _hand(seed: int, width: int, height: int) -> tuple[np.ndarray, Truth]:
    """Line integral of seed ``seed``'s hand on a (height, width) grid, and its box and joints."""
    side = max(width, height)
    cfg = ScanConfig(fov_mm=FOV_MM, lr_size=side, scale=1, render_factor=1)
    rng = np.random.default_rng([int(seed), KINDS.index(LIVE_KIND), 0])
    hand = sample_hand(rng)
    line, _ = _live_line_integral(rng, hand, cfg)
    y0, x0 = (side - height) // 2, (side - width) // 2
    line = np.ascontiguousarray(line[y0 : y0 + height, x0 : x0 + width], dtype=np.float32)
    ys, xs = np.nonzero(line > 0.05)
    box = (
        [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1] if xs.size else [0, 0, 0, 0]
    )
    line.setflags(write=False)
    return line, {"hand_box": box, "joints": sum(len(ray) for ray in hand.rays)}


def render_xray(index: int, seed: int = 0, width: int = 480, height: int = 600) -> tuple[np.ndarray, Truth]:
    """An xray16 palm radiograph (dense = bright) with small per-frame pose changes and quantum noise."""
    line, hand = _hand(seed, width, height)
    rng = np.random.default_rng((seed, index))
    angle = 3.0 * math.sin(index / 5.0 + seed)
    shift = (4.0 * math.sin(index / 7.0), 3.0 * math.cos(index / 9.0))
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    m[:, 2] += shift
    posed = cv2.warpAffine(line, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0)
    counts = rng.poisson(QUANTA * np.exp(-posed)).astype(np.float32)
    image = np.clip((1.0 - counts / QUANTA) * 60000.0 + 2000.0, 0, 65535).astype(np.uint16)
    truth = dict(hand, scene="xray", index=index, seed=seed, angle_deg=angle, shift_px=list(shift))
    return image, truth


__all__ = ["render_xray"]
