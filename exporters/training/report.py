"""What a training run shows its user: ``metrics.json``, PNG curves and the held-out comparison table.

matplotlib is not a dependency of the project, so the charts are drawn with OpenCV.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

_COLORS = ((200, 60, 30), (30, 140, 30), (30, 30, 200), (160, 0, 160), (0, 140, 200), (90, 90, 90))


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON through a temporary file (never a torn file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_plain) + "\n")
    tmp.replace(path)
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _panel(
    img: np.ndarray,
    box: tuple[int, int, int, int],
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    xlabel: str,
    log_x: bool = False,
) -> None:
    """One chart of ``name -> (xs, ys)`` inside ``box`` = (x0, y0, x1, y1) of ``img``."""
    x0, y0, x1, y1 = box
    left, bottom, top = 60, 30, 24
    px0, py0, px1, py1 = x0 + left, y0 + top, x1 - 10, y1 - bottom
    cv2.rectangle(img, (px0, py0), (px1, py1), (0, 0, 0), 1)
    cv2.putText(img, title, (px0, y0 + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, xlabel, (px1 - 60, y1 - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    pts = {k: (np.asarray(xs, float), np.asarray(ys, float)) for k, (xs, ys) in series.items() if len(xs)}
    if log_x:
        pts = {k: (np.log10(np.clip(xs, 1e-6, None)), ys) for k, (xs, ys) in pts.items()}
    finite = [v for xs, ys in pts.values() for v in ys[np.isfinite(ys)]]
    xs_all = [v for xs, _ in pts.values() for v in xs]
    if not finite or not xs_all:
        return
    lo, hi = min(finite), max(finite)
    hi = hi if hi > lo else lo + 1.0
    xlo, xhi = min(xs_all), max(xs_all)
    xhi = xhi if xhi > xlo else xlo + 1.0
    for v, y in ((lo, py1), (hi, py0)):
        cv2.putText(
            img, f"{v:.3g}", (x0 + 4, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA
        )
    for k, (name, (xs, ys)) in enumerate(pts.items()):
        ok = np.isfinite(ys)
        u = px0 + (xs[ok] - xlo) / (xhi - xlo) * (px1 - px0)
        v = py1 - (ys[ok] - lo) / (hi - lo) * (py1 - py0)
        color = _COLORS[k % len(_COLORS)]
        if len(u) > 1:
            cv2.polylines(img, [np.stack([u, v], 1).astype(np.int32)], False, color, 1, cv2.LINE_AA)
        elif len(u):
            cv2.circle(img, (int(u[0]), int(v[0])), 3, color, -1)
        cv2.putText(
            img, name, (px0 + 6, py0 + 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.38, color, 1, cv2.LINE_AA
        )


def draw_curves(path: Path, history: Sequence[Mapping[str, Any]], title: str) -> Path:
    """One panel per logged loss (and one for the learning rate) against the global step."""
    keys = sorted({k for row in history for k, v in row.items() if isinstance(v, (int, float))})
    keys = [k for k in keys if k not in ("step", "epoch", "s", "phase_step")]
    n = max(1, len(keys))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    w, h = 360, 240
    img = np.full((rows * h + 30, cols * w, 3), 255, np.uint8)
    cv2.putText(img, title, (10, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for i, key in enumerate(keys):
        r, c = divmod(i, cols)
        xs = [row["step"] for row in history if key in row]
        ys = [float(row[key]) for row in history if key in row]
        _panel(img, (c * w, 30 + r * h, (c + 1) * w, 30 + (r + 1) * h), {key: (xs, ys)}, key, "step")
    cv2.imwrite(str(path), img)
    return path


def draw_roc(path: Path, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str) -> Path:
    """TAR against FAR (log axis) of each ``name -> (far, tar)``."""
    img = np.full((420, 620, 3), 255, np.uint8)
    _panel(img, (0, 0, 620, 420), curves, title, "FAR (log10)", log_x=True)
    cv2.imwrite(str(path), img)
    return path


def comparison(held_out: Mapping[str, float], shipped: Mapping[str, float] | None, metric: str) -> str:
    """The table printed at the end: each held-out figure of the new bundle next to the shipped model's."""
    keys = [k for k in held_out if isinstance(held_out[k], (int, float))]
    width = max([len(k) for k in keys] + [10])
    lines = [f"{'held-out':{width}s}  {'this run':>12s}  {'shipped':>12s}"]
    for k in keys:
        mine = f"{held_out[k]:.4g}"
        theirs = f"{shipped[k]:.4g}" if shipped and isinstance(shipped.get(k), (int, float)) else "n/a"
        mark = "  <- metric" if k == "metric" else ""
        lines.append(f"{k:{width}s}  {mine:>12s}  {theirs:>12s}{mark}")
    lines.append(f"(metric = {metric})")
    return "\n".join(lines)
