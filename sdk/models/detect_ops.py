"""Box arithmetic shared by the face detectors: IoU, NMS, regression, squaring, crops.

Boxes are float arrays ``(N, 4)`` of ``x0, y0, x1, y1`` in pixel units with an exclusive right/
bottom edge (a box ``0, 0, 12, 12`` covers pixels 0..11).  Everything is numpy/OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import ConfigError


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray, mode: str = "union") -> np.ndarray:
    """IoU (``union``) or intersection over the smaller area (``min``) of one box with many."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    denom = np.minimum(area, areas) if mode == "min" else area + areas - inter
    return inter / np.maximum(denom, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept boxes, best score first."""
    if mode not in ("union", "min"):
        raise ConfigError(f"unknown NMS mode {mode!r}; valid: union, min")
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        overlap = iou_one_to_many(boxes[i], boxes[order[1:]], mode)
        order = order[1:][overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def apply_regression(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Move each edge by its offset times the box width/height (MTCNN's bounding-box regression)."""
    w = (boxes[:, 2] - boxes[:, 0])[:, None]
    h = (boxes[:, 3] - boxes[:, 1])[:, None]
    return boxes + reg * np.concatenate([w, h, w, h], axis=1)


def square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square of its longer side about the same centre."""
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=1)


def crop_resize(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Crops of ``boxes`` (whole pixels, zero outside the image) resized to ``size``: (N, S, S, C)."""
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), size, size, image.shape[2]), np.uint8)
    for i, (x0, y0, x1, y1) in enumerate(np.round(boxes).astype(np.int64)):
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        patch = np.zeros((y1 - y0, x1 - x0, image.shape[2]), np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
        interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
        out[i] = cv2.resize(patch, (size, size), interpolation=interp).reshape(size, size, -1)
    return out


def box_quads(boxes: np.ndarray) -> np.ndarray:
    """The four vertices (top-left, top-right, bottom-right, bottom-left) of axis-aligned boxes; (N, 4, 2)."""
    x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    return np.stack(
        [np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x1, y1], 1), np.stack([x0, y1], 1)], 1
    )


__all__ = ["apply_regression", "box_quads", "crop_resize", "iou_one_to_many", "nms", "square"]
