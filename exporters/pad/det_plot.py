"""DET curve PNG (ISO/IEC 30107-3 / 19795-1 style: APCER vs BPCER on normal-deviate axes), OpenCV only.

matplotlib is not a dependency of the project, so the axes, grid and legend are drawn with cv2.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from statistics import NormalDist

import cv2
import numpy as np

from .metrics import det_points

_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8)
_COLORS = ((200, 60, 30), (30, 140, 30), (30, 30, 200), (160, 0, 160), (0, 140, 200), (90, 90, 90))


def _probit(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    nd = NormalDist()
    return np.array([nd.inv_cdf(float(np.clip(v, lo, hi))) for v in np.ravel(p)])


def draw_det(
    path: str | Path,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    title: str = "DET",
    size: tuple[int, int] = (940, 640),
    lo: float = 0.001,
    hi: float = 0.8,
) -> Path:
    """Draw one DET curve per ``name → (bona_fide_scores, attack_scores)`` and write a PNG."""
    w, h = size
    left, right, top, bottom = 80, 260, 50, 70  # the legend sits in the right margin
    img = np.full((h, w, 3), 255, np.uint8)
    zlo, zhi = NormalDist().inv_cdf(lo), NormalDist().inv_cdf(hi)

    def to_px(ap: np.ndarray, bp: np.ndarray) -> np.ndarray:
        x = left + (_probit(ap, lo, hi) - zlo) / (zhi - zlo) * (w - left - right)
        y = h - bottom - (_probit(bp, lo, hi) - zlo) / (zhi - zlo) * (h - top - bottom)
        return np.stack([x, y], axis=1).round().astype(np.int32)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for t in _TICKS:
        (x, _), (_, y) = to_px(np.array([t]), np.array([lo]))[0], to_px(np.array([lo]), np.array([t]))[0]
        cv2.line(img, (int(x), top), (int(x), h - bottom), (225, 225, 225), 1)
        cv2.line(img, (left, int(y)), (w - right, int(y)), (225, 225, 225), 1)
        label = f"{t * 100:g}"
        cv2.putText(img, label, (int(x) - 10, h - bottom + 18), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, label, (left - 40, int(y) + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (w - right, h - bottom), (0, 0, 0), 1)
    diag = to_px(np.array([lo, hi]), np.array([lo, hi]))
    cv2.line(img, tuple(diag[0]), tuple(diag[1]), (180, 180, 180), 1, cv2.LINE_AA)
    cv2.putText(img, "APCER (%)", (w // 2 - 40, h - 25), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "BPCER (%)", (8, top - 12), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title, (left, 22), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for k, (name, (bona, attacks)) in enumerate(curves.items()):
        color = _COLORS[k % len(_COLORS)]
        ap, bp = det_points(np.asarray(bona), np.asarray(attacks))
        pts = to_px(ap, bp)
        cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, color, 2, cv2.LINE_AA)
        y = top + 20 + 18 * k
        cv2.line(img, (w - right + 12, y - 4), (w - right + 37, y - 4), color, 2)
        cv2.putText(img, name[:30], (w - right + 42, y), font, 0.42, color, 1, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write DET plot to {path}")
    return path
