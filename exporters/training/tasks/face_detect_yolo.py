"""``face_detect_yolo`` (the seed 000 single-stage quad detector) through the harness.

Data: ``widerface:DIR`` (WIDER FACE; ``WIDER_val`` is the held-out test set, validation events
come out of ``WIDER_train``) or ``composites`` (the shipped weights' composites of the offline
faces; tested on the real group photograph never pasted). Each training sample is a random
``canvas``² window of a photograph, scaled, mirrored and turned by 0/90/180/270° (the seed's
rotation augmentation), with quads whose first vertex is the upright face's top-left. Held out:
AP@0.5, precision and recall through the SDK decoder at the four rotations; the score threshold is
the best-F1 one on the validation images.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from biogate.exporters.data.layouts import DataSet
from biogate.exporters.registry import InferFn, ModelSpec
from biogate.exporters.training.task import Budget, Phase, Step, Task
from biogate.exporters.training.trainers import TrainerSpec, register_trainer

_HERE = "biogate.exporters.training.tasks.face_detect_yolo"


@dataclass(frozen=True)
class Config:
    batch: int = 24
    lr: float = 3e-3
    width: int = 16
    canvas: int = 160  # training window side (multiple of 32)
    eval_size: int = 640  # letterbox side at evaluation
    eval_images: int = 200  # at most this many held-out / validation photographs
    min_face: float = 6.0  # training boxes below this side (px, after scaling) are dropped
    rotations: int = 4  # held-out evaluation at 0/90/180/270° (1: upright only)


def photos_of(data: DataSet, limit: int) -> list[Any]:
    """Annotated photographs of a ``widerface`` part (at most ``limit``, spread over the part)."""
    from biogate.exporters.data.face_data import FacePhoto

    pick = np.linspace(0, len(data) - 1, min(limit, len(data))).round().astype(int) if len(data) else []
    out = []
    for i in sorted(set(int(v) for v in pick)):
        it = data.items[i]
        boxes = np.asarray(it.label, np.float32).reshape(-1, 4)
        marks = np.zeros((len(boxes), 5, 2), np.float32)
        out.append(FacePhoto(data.read(it), boxes, marks, ("face",) * len(boxes), it.key))
    return out


def window(
    image: np.ndarray, boxes: np.ndarray, canvas: int, rng: np.random.Generator, min_face: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random ``canvas``² training window: scaled, mirrored, turned by k·90°; (image, boxes, quads)."""
    from biogate.exporters.training.train_face_detector import box_corners, rotate90

    h, w = image.shape[:2]
    scale = canvas / max(h, w) * rng.uniform(0.8, 2.5)
    img = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    b = boxes * scale
    if rng.random() < 0.5:
        img = np.ascontiguousarray(img[:, ::-1])
        b = np.stack([img.shape[1] - b[:, 2], b[:, 1], img.shape[1] - b[:, 0], b[:, 3]], 1)
    out = np.full((canvas, canvas, 3), 114, np.uint8)
    y0 = int(rng.integers(0, max(1, img.shape[0] - canvas + 1)))
    x0 = int(rng.integers(0, max(1, img.shape[1] - canvas + 1)))
    crop = img[y0 : y0 + canvas, x0 : x0 + canvas]
    out[: crop.shape[0], : crop.shape[1]] = crop
    b = b - [x0, y0, x0, y0]
    inside = np.clip(b, 0, [crop.shape[1], crop.shape[0]] * 2)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    kept = (inside[:, 2] - inside[:, 0]) * (inside[:, 3] - inside[:, 1]) >= 0.6 * np.maximum(area, 1e-6)
    kept &= np.minimum(inside[:, 2] - inside[:, 0], inside[:, 3] - inside[:, 1]) >= min_face
    out, quads = rotate90(out, box_corners(inside[kept]), int(rng.integers(4)))
    boxes_out = (
        np.concatenate([quads.min(1), quads.max(1)], 1) if len(quads) else np.zeros((0, 4), np.float32)
    )
    return out, boxes_out.astype(np.float32), quads.astype(np.float32)


class DetectorTask(Task):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.threshold = 0.5
        self._photos: dict[str, list[Any]] = {}
        self._composer: Any = None

    def _sample(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg, data = self.config, self.env.split.train
        if self.env.data.kind == "composites":
            from biogate.exporters.training.train_face_detector import Composer

            if self._composer is None or self._composer.canvas != cfg.canvas:
                self._composer = Composer(self.env.seed, cfg.canvas)
            self._composer.rng = rng  # every composite a pure function of (seed, epoch, index)
            return self._composer.sample()
        it = data.items[i]
        return window(
            data.read(it), np.asarray(it.label, np.float32).reshape(-1, 4), cfg.canvas, rng, cfg.min_face
        )

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.nets.yolo_face import YoloFace
        from biogate.exporters.training.samples import SampleSet

        cfg = self.config

        def make(i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return self._sample(i, rng)

        dataset = SampleSet(len(self.env.split.train), make, self.env.seed)
        steps = budget.for_phase(len(dataset) // cfg.batch)
        self.net = YoloFace(cfg.width)
        opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=max(1, steps), pct_start=0.1
        )
        return Phase(
            name,
            steps,
            dataset,
            cfg.batch,
            {"net": self.net},
            {"adamw": opt},
            {"onecycle": sched},
            collate=_collate(cfg.canvas),
        )

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        from biogate.exporters.training.train_face_detector import loss_fn

        with step.autocast():
            preds = [p.float() for p in nets["net"](batch["image"])]
        loss, parts = loss_fn(preds, batch["targets"])
        step.backward(loss)
        step.step(phase.optimizers["adamw"], clip=10.0)
        return {"loss": float(loss.detach()), **parts}

    # -- held out --------------------------------------------------------------------------------
    def photos(self, part: str) -> list[Any]:
        if part not in self._photos:
            from biogate.exporters.training.train_face_detector import (
                composite_photos,
                held_out_photos,
                rotated_photos,
            )

            cfg = self.config
            if self.env.data.kind == "composites":
                photos = held_out_photos() if part == "test" else composite_photos(48, 777, cfg.canvas)
            else:
                photos = photos_of(getattr(self.env.split, part), cfg.eval_images)
            if part == "test" and cfg.rotations > 1:
                photos = rotated_photos(photos)
            self._photos[part] = photos
        return self._photos[part]

    def finish(self, phase: Phase) -> None:
        from biogate.exporters.training.train_face_detector import pick_score_threshold, torch_infer

        size = self.config.canvas if self.env.data.kind == "composites" else self.config.eval_size
        self.threshold = pick_score_threshold(torch_infer(self.net.eval()), self.photos("val"), size)
        self.env.log(f"score threshold {self.threshold} (best F1 on the validation images)")

    def module(self) -> Any:
        return self.net.eval()

    def evaluate(self, infer: InferFn, threshold: float | None = None) -> dict[str, float]:
        """AP@0.5 (the metric), precision and recall on the held-out photographs (all rotations)."""
        from biogate.exporters.training.train_face_detector import evaluate_infer

        tau = self.threshold if threshold is None else threshold
        m = evaluate_infer(infer, self.photos("test"), self.config.eval_size, tau)
        return {"metric": m["ap50"], **m}

    def evaluate_shipped(self, spec: ModelSpec, infer: InferFn) -> dict[str, float]:
        return self.evaluate(infer, float(spec.thresholds["score"]))

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry

        base = registry.get("face_detect_yolo")
        val = self.photos("val")

        def calibration_data(n: int) -> Any:
            for photo in val[:n]:
                img = cv2.resize(photo.image, (320, 320), interpolation=cv2.INTER_AREA)
                yield {"image": (img.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()}

        return replace(
            base,
            build=self.module,
            evaluate=self.evaluate,
            calibration_data=calibration_data,
            thresholds={**base.thresholds, "score": float(self.threshold)},
            description=(
                "YOLOv5-style single-stage face detector with quadrilateral output (seed 000), trained by "
                f"biogate train on {self.env.data.spec} with 0/90/180/270° rotations"
            ),
            calibration_description=f"validation photographs of {self.env.data.spec}, resized to 320x320",
            evaluation=f"held-out photographs of {self.env.data.spec} at {self.config.rotations} rotation(s)",
            calib_samples=min(32, len(val)),
            training=training,
        )


def _collate(canvas: int) -> Any:
    def collate(samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, Any]:
        import torch

        from biogate.exporters.training.train_face_detector import build_targets

        images = np.stack([s[0] for s in samples]).astype(np.float32) / np.float32(255.0)
        targets = build_targets([s[1] for s in samples], [s[2] for s in samples], canvas)
        return {"image": torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), "targets": targets}

    return collate


register_trainer(
    TrainerSpec(
        "face_detect_yolo",
        ("widerface", "composites"),
        "seed 000 single-stage quad face detector (rotation augmentation); AP@0.5 at 4 rotations",
        f"{_HERE}:DetectorTask",
        f"{_HERE}:Config",
        default_steps=1500,
    )
)
