"""Detection metrics on annotated real photographs: precision, recall and AP at IoU 0.5.

AP is the area under the all-point interpolated precision/recall curve (PASCAL VOC 2010+):
detections of all photos are ranked by score, each is a true positive when it overlaps a not yet
matched ground-truth face with IoU >= 0.5.  Precision and recall are reported at the detector's
own operating threshold (every returned detection counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from biogate.models.detect_ops import iou_one_to_many


def _match(boxes: np.ndarray, scores: np.ndarray, gt: np.ndarray, iou: float) -> np.ndarray:
    """True-positive flag per detection (greedy by score, each ground truth matched once)."""
    tp = np.zeros(len(boxes), bool)
    used = np.zeros(len(gt), bool)
    for i in np.argsort(-scores, kind="stable"):
        if not len(gt):
            break
        overlaps = iou_one_to_many(boxes[i], gt)
        overlaps[used] = -1.0
        j = int(np.argmax(overlaps))
        if overlaps[j] >= iou:
            tp[i], used[j] = True, True
    return tp


def average_precision(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP of detections with flags ``tp`` and ``scores`` against ``n_gt`` faces."""
    if n_gt == 0:
        return float("nan")
    if not len(tp):
        return 0.0
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(tp[order])
    recall = hits / n_gt
    precision = hits / np.arange(1, len(order) + 1)
    # Monotone precision envelope, then area over recall steps.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * envelope).sum())


def detection_metrics(
    detect: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    photos: Sequence[Any],
    iou: float = 0.5,
) -> dict[str, float]:
    """Run ``detect(image) -> (boxes (N, 4), scores (N,))`` on each photo (``image``, ``boxes``).

    Returns ``ap50``, ``recall``, ``precision``, ``faces`` and ``false_positives``.
    """
    all_tp, all_scores, n_gt = [], [], 0
    for photo in photos:
        boxes, scores = detect(photo.image)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        scores = np.asarray(scores, np.float32).reshape(-1)
        gt = np.asarray(photo.boxes, np.float32).reshape(-1, 4)
        all_tp.append(_match(boxes, scores, gt, iou))
        all_scores.append(scores)
        n_gt += len(gt)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, bool)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0, np.float32)
    n_tp = int(tp.sum())
    return {
        "ap50": average_precision(tp, scores, n_gt),
        "recall": n_tp / n_gt if n_gt else float("nan"),
        "precision": n_tp / len(tp) if len(tp) else 0.0,
        "faces": float(n_gt),
        "false_positives": float(len(tp) - n_tp),
    }


__all__ = ["average_precision", "detection_metrics"]
