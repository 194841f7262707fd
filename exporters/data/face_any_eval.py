"""Per-rotation detection metrics on real photographs, with ignore regions (faces under 40 px).

For each rotation (0, 90, 180, 270 and ±30 degrees by default) every photograph is turned whole
(:func:`biogate.exporters.data.face_detect_data.rotate_photo`), the detector runs, and detections are
matched to the turned faces at IoU 0.5 (axis-aligned boxes around the quads, so a face turned by
30° is matched on the box around it, as the ground truth is).  Faces smaller than ``min_face``
and the photograph's ignore regions are *ignored*: a detection on them is neither a hit nor a false
positive, and they are not counted as missed.  Reported per rotation: AP@0.5 (all-point), recall
and precision at the detector's own threshold, the best recall at precision >= 0.90, and the
orientation error of the matched quads (degrees).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from biogate.exporters.data.face_detect_eval import average_precision
from biogate.models.detect_ops import iou_one_to_many

from .face_detect_data import MIN_EVAL_FACE, DetectPhoto, inside_regions, rotate_photo

ROTATIONS = (0.0, 90.0, 180.0, 270.0, 30.0, -30.0)
Detect = Callable[[np.ndarray], list]


def _quad_angle(quad: np.ndarray) -> float:
    """Angle (deg, counter-clockwise) of a quad's top edge, i.e. of the face it frames."""
    v = np.asarray(quad[1], np.float64) - np.asarray(quad[0], np.float64)
    return math.degrees(math.atan2(-v[1], v[0]))


def match_photo(faces: list, photo: DetectPhoto, iou: float = 0.5, min_face: float = MIN_EVAL_FACE) -> dict:
    """Flags for one photo: ``tp`` per detection (True/False, or None = ignored), scores, hits, angles."""
    gt = photo.boxes.reshape(-1, 4)
    side = np.array([np.linalg.norm(q[1] - q[0]) for q in photo.quads]) if len(gt) else np.zeros(0)
    small = side < min_face
    used = np.zeros(len(gt), bool)
    flags: list[bool | None] = []
    errors: list[float] = []
    order = np.argsort([-f.score for f in faces], kind="stable")
    for i in order:
        f = faces[i]
        box = np.asarray(f.box, np.float32)
        flag: bool | None = False
        if len(gt):
            ov = iou_one_to_many(box, gt)
            ov_free = np.where(used, -1.0, ov)
            j = int(np.argmax(ov_free))
            if ov_free[j] >= iou:
                if small[j]:
                    flag = None
                else:
                    flag = True
                    err = (_quad_angle(f.quad) - _quad_angle(photo.quads[j]) + 180.0) % 360.0 - 180.0
                    errors.append(abs(err))
                used[j] = True
            elif small[ov >= iou].any():
                flag = None  # on a face too small to count
        if flag is False and inside_regions(*((box[:2] + box[2:]) / 2), photo.ignore):
            flag = None
        flags.append(flag)
    scores = [faces[i].score for i in order]
    return {"flags": flags, "scores": scores, "n_gt": int((~small).sum()), "angle_errors": errors}


def summarise(parts: Sequence[dict]) -> dict[str, float]:
    """AP, recall, precision, best recall at precision >= 0.9, false positives, angle error."""
    flags = [f for p in parts for f in p["flags"]]
    scores = np.array(
        [s for p in parts for s, f in zip(p["scores"], p["flags"]) if f is not None], np.float32
    )
    tp = np.array([f for f in flags if f is not None], bool)
    n_gt = sum(p["n_gt"] for p in parts)
    errors = [e for p in parts for e in p["angle_errors"]]
    n_tp = int(tp.sum())
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(tp[order]) if len(tp) else np.zeros(0)
    prec = hits / np.arange(1, len(hits) + 1) if len(hits) else np.zeros(0)
    rec = hits / max(n_gt, 1)
    ok = prec >= 0.9
    return {
        "ap50": average_precision(tp, scores, n_gt),
        "recall": n_tp / n_gt if n_gt else float("nan"),
        "precision": n_tp / len(tp) if len(tp) else 0.0,
        "recall_at_p90": float(rec[ok].max()) if ok.any() else 0.0,
        "faces": float(n_gt),
        "false_positives": float(len(tp) - n_tp),
        "angle_error_deg": float(np.median(errors)) if errors else float("nan"),
        "angle_error_max_deg": float(np.max(errors)) if errors else float("nan"),
    }


def pr_curve(parts: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) along the ranked detections of ``parts``."""
    pairs = [(s, f) for p in parts for s, f in zip(p["scores"], p["flags"]) if f is not None]
    pairs.sort(key=lambda t: -t[0])
    n_gt = max(sum(p["n_gt"] for p in parts), 1)
    hits = np.cumsum([f for _, f in pairs]) if pairs else np.zeros(0)
    return hits / n_gt, hits / np.arange(1, len(hits) + 1) if len(hits) else np.zeros(0)


def evaluate_rotations(
    detect: Detect,
    photos: Sequence[DetectPhoto],
    rotations: Sequence[float] = ROTATIONS,
    keep_parts: bool = False,
    min_face: float = MIN_EVAL_FACE,
) -> dict[str, Any]:
    """``{"rot0": metrics, "rot90": ..., "all": metrics}`` of ``detect(image) -> [FaceDetection]``
    (faces under ``min_face`` px ignored)."""
    out: dict[str, Any] = {}
    every: list[dict] = []
    for angle in rotations:
        parts = []
        for photo in photos:
            turned = rotate_photo(photo, angle)
            parts.append(match_photo(detect(turned.image), turned, min_face=min_face))
        out[f"rot{angle:g}"] = summarise(parts)
        if keep_parts:
            out[f"rot{angle:g}"]["_parts"] = parts
        every += parts
    out["all"] = summarise(every)
    out["worst_recall_at_p90"] = min(out[f"rot{a:g}"]["recall_at_p90"] for a in rotations)
    return out


__all__ = ["ROTATIONS", "evaluate_rotations", "match_photo", "pr_curve", "summarise"]
