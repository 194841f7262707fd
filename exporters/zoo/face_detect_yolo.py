"""``face_detect_yolo``: the seed's single-stage face detector with quadrilateral output.

Trained on composites of real faces (:mod:`biogate.exporters.training.train_face_detector`, with the
seed's 90/180/270° rotation augmentation); weights ``exporters/weights/yolo_face.pt`` (small), the
training record with the exact command and metrics beside them (``yolo_face.json``). Retrain into a
bundle with ``biogate train face_detect_yolo --data composites|widerface:DIR`` (docs/training.md).

Evaluation (and the INT8 gate) is detection on the *held-out real* group photograph at 0/90/180/270°
(24 face instances) through the SDK decoder :class:`biogate.models.YoloFaceDetector`.  Calibration
uses the real photographs the detector was trained on (never the held-out one), letterboxed to 320.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import (
    IMAGE_RGB01,
    InferFn,
    ModelSpec,
    TensorSpec,
    load_trained,
    read_record,
    register,
)

NAME = "face_detect_yolo"
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "yolo_face.pt"
RECORD = WEIGHTS.with_suffix(".json")
NMS_THRESHOLD = 0.45


@lru_cache(maxsize=1)
def _record() -> dict[str, Any]:
    return read_record(RECORD)


def score_threshold() -> float:
    """The threshold the training run picked on composites (best F1), 0.5 before any training."""
    return float(_record().get("score_threshold", 0.5))


def build() -> Any:
    """The trained net (raw ``p8``, ``p16`` outputs) in eval mode."""
    from biogate.exporters.nets.yolo_face import YoloFace

    model = YoloFace(int(_record().get("config", {}).get("width", 16)))
    return load_trained(model, WEIGHTS, "biogate train face_detect_yolo")


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """The training photographs (not the held-out one), letterboxed to 320x320, at four rotations."""
    import cv2

    from biogate.exporters.data.face_data import load_photos
    from biogate.exporters.training.train_face_detector import HELD_OUT

    count = 0
    for photo in load_photos():
        if photo.source == HELD_OUT:
            continue
        for k in range(4):
            if count >= n:
                return
            img = np.rot90(photo.image, k)
            scale = 320.0 / max(img.shape[:2])
            small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            canvas = np.full((320, 320, 3), 114, np.uint8)
            canvas[: small.shape[0], : small.shape[1]] = small
            yield {"image": (canvas.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()}
            count += 1


def evaluate(infer: InferFn) -> dict[str, float]:
    """AP@0.5, precision and recall on the held-out real photograph at four rotations."""
    from biogate.exporters.training.train_face_detector import evaluate_infer, held_out_photos, rotated_photos

    metrics = evaluate_infer(infer, rotated_photos(held_out_photos()), 640, score_threshold())
    return {"metric": metrics["ap50"], **metrics}


register(
    ModelSpec(
        name=NAME,
        task="face_detection",
        seed="000",
        build=build,
        inputs=[IMAGE_RGB01],
        outputs=[TensorSpec("p8", (-1, 13, -1, -1)), TensorSpec("p16", (-1, 13, -1, -1))],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="ap50",
        higher_is_better=True,
        int8_budget=0.05,
        parity_atol=1e-3,
        dynamic_spatial=True,
        thresholds={"score": score_threshold(), "nms": NMS_THRESHOLD},
        license="Apache-2.0 (trained by biogate on composites of offline real faces)",
        description=(
            "YOLOv5-style single-stage face detector (two levels, stride 8/16) predicting boxes and the face "
            "quadrilateral's four vertices; trained with 90/180/270 degree rotations on composites of real "
            "faces (scikit-image, insightface wheel photos, LFW subset); metrics on a held-out real photo."
        ),
        calibration_description="real training photographs letterboxed to 320x320 at four rotations",
        calib_samples=12,
        role="detector",
        evaluation="the held-out real group photograph at 0/90/180/270 degrees (24 faces)",
    )
)
