"""``face_detect_any``: the any-orientation face detector's proposal net (with MTCNN's R-Net/O-Net).

Trained by :mod:`biogate.exporters.training.train_face_detect_any` on real photographs at every angle;
weights ``exporters/weights/face_any.pt`` (86 KB) and the training record beside them.

The bundle's evaluation (and its INT8 gate) is the *whole* :class:`biogate.models.AnyAngleFaceDetector`
cascade — this net swapped in, MTCNN's R-Net and O-Net in PyTorch FP32 — on the **held-out** real
photographs (:data:`biogate.exporters.data.face_detect_data.HELD_OUT`, 26 faces in 6 photographs)
turned by 0, 90, 180, 270, +30 and -30 degrees; the manifest carries every rotation's AP, recall and
precision, and the gated metric is the *worst* rotation's AP@0.5.  Calibration: pyramid-level tiles
of the training photographs at several angles, centred on their faces (never the held-out ones).
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

NAME = "face_detect_any"
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "face_any.pt"
RECORD = WEIGHTS.with_suffix(".json")
#: Proposal, R-Net and O-Net score thresholds (picked on training photographs left out of a training run).
THRESHOLDS = {"proposal": 0.2, "rnet": 0.4, "onet": 0.5}
CALIB_TILE = 160


@lru_cache(maxsize=1)
def _record() -> dict[str, Any]:
    return read_record(RECORD)


def thresholds() -> dict[str, float]:
    """The training run's picked thresholds, else :data:`THRESHOLDS`."""
    return {**THRESHOLDS, **(_record().get("thresholds") or {})}


def build() -> Any:
    """The trained proposal net (output ``maps``) in eval mode."""
    from biogate.exporters.nets.face_any import FaceAnyNet

    model = FaceAnyNet(int(_record().get("config", {}).get("width", 24)))
    return load_trained(model, WEIGHTS, "biogate.exporters.training.train_face_detect_any")


def torch_infer(model: Any, output: str = "maps") -> InferFn:
    """A one-output net (input ``image``) as an infer callable (numpy in and out)."""
    import torch

    def infer(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            return {output: model(torch.from_numpy(np.ascontiguousarray(inputs["image"]))).numpy()}

    return infer


def detector(
    proposer: InferFn | None = None, rotate: str = "any", orienter: InferFn | None = None, **options: Any
) -> Any:
    """The SDK cascade: ``proposer`` and ``orienter`` (default: the PyTorch nets, the quarter-turn
    classifier of :mod:`biogate.exporters.zoo.face_orient`) and MTCNN's PyTorch R-Net/O-Net."""
    from biogate.exporters.zoo import face_orient
    from biogate.exporters.zoo.mtcnn import torch_infer as mtcnn_infer
    from biogate.models.face_detect_any import AnyAngleFaceDetector

    t = thresholds()
    return AnyAngleFaceDetector(
        proposer or torch_infer(build()),
        mtcnn_infer("rnet"),
        mtcnn_infer("onet"),
        orienter=orienter or torch_infer(face_orient.build(), "prob"),
        rotate=rotate,
        thresholds=(t["proposal"], t["rnet"], t["onet"]),
        **options,
    )


def evaluate_held_out(det: Any) -> dict[str, Any]:
    """Per-rotation metrics of a detector on the held-out real photographs."""
    from biogate.exporters.data.face_any_eval import evaluate_rotations
    from biogate.exporters.data.face_detect_data import load_detect_photos

    return evaluate_rotations(det.detect, load_detect_photos(held_out=True))


def evaluate(infer: InferFn) -> dict[str, float]:
    """Flat per-rotation metrics (``rot90_ap50`` ...); ``metric`` is the worst rotation's AP@0.5."""
    return cascade_metrics(detector(infer))


def cascade_metrics(det: Any) -> dict[str, float]:
    """:func:`evaluate`'s flat metrics of any cascade (each of its bundles swaps its own net in)."""
    result = evaluate_held_out(det)
    flat: dict[str, float] = {}
    for key, value in result.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{k}": float(v) for k, v in value.items()})
    rots = [k for k in result if k.startswith("rot")]
    flat["worst_recall_at_p90"] = float(result["worst_recall_at_p90"])
    flat["worst_rotation_ap50"] = min(result[k]["ap50"] for k in rots)
    # The fitness contract's detector metrics: the *worst* rotation's, so every angle must pass.
    flat["ap50"] = flat["worst_rotation_ap50"]
    flat["recall"] = min(result[k]["recall"] for k in rots)
    flat["metric"] = flat["worst_rotation_ap50"]
    return flat


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """Tiles of the training photographs' first pyramid level (faces at the trained size), turned by
    0/90/180/270/30 degrees, each centred on one of the photograph's faces in turn — faceless corners
    alone under-range the activations that faces drive, and INT8 then finds no face."""
    import cv2

    from biogate.exporters.data.face_detect_data import load_detect_photos, rotate_photo
    from biogate.models.face_detect_any import level_scales

    count = 0
    for photo in load_detect_photos(held_out=False):
        for k, angle in enumerate((0.0, 90.0, 180.0, 270.0, 30.0)):
            turned = rotate_photo(photo, angle)
            img = turned.image
            h, w = img.shape[:2]
            scale = level_scales(h, w, 40.0)[0]
            level = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            centre = turned.quads[k % len(turned.quads)].mean(0) * scale if len(turned.quads) else (0, 0)
            y0 = int(np.clip(centre[1] - CALIB_TILE / 2, 0, max(0, level.shape[0] - CALIB_TILE)))
            x0 = int(np.clip(centre[0] - CALIB_TILE / 2, 0, max(0, level.shape[1] - CALIB_TILE)))
            tile = np.full((CALIB_TILE, CALIB_TILE, 3), 114, np.uint8)
            part = level[y0 : y0 + CALIB_TILE, x0 : x0 + CALIB_TILE]
            tile[: part.shape[0], : part.shape[1]] = part
            if count >= n:
                return
            yield {"image": (tile.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()}
            count += 1


register(
    ModelSpec(
        name=NAME,
        task="face_detection",
        seed="000",
        build=build,
        inputs=[IMAGE_RGB01],
        outputs=[TensorSpec("maps", (-1, 6, -1, -1))],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="worst_rotation_ap50",
        higher_is_better=True,
        int8_budget=0.05,
        parity_atol=1e-3,
        dynamic_spatial=True,
        thresholds=thresholds(),
        license="Apache-2.0 (trained by biogate on offline real photographs; R-Net/O-Net: MIT)",
        description=(
            "Any-orientation face proposals (stride-4 grid: score, centre, size, cos/sin of the face angle) "
            "for biogate.models.AnyAngleFaceDetector, which verifies them with MTCNN's R-Net/O-Net turned "
            "upright. Trained on real photographs at every angle with hard-negative mining; metrics: the "
            "whole cascade on held-out real photographs turned by 0/90/180/270/+-30 degrees."
        ),
        role="detector",
        evaluation=(
            "the whole cascade on the held-out real photographs (26 faces, 6 photos) turned by "
            "0/90/180/270/+-30 degrees; recall and ap50 are the worst rotation's"
        ),
        calibration_description=(
            "pyramid-level tiles of the training photographs at 0/90/180/270/30 degrees, "
            "centred on their faces"
        ),
        calib_samples=48,
    )
)
