"""``face_detect_any`` (the any-orientation cascade's proposal net) through the harness.

Data: ``widerface:DIR`` (WIDER FACE; ``WIDER_val`` is the held-out test set, validation events come
out of ``WIDER_train``). Every annotated training photograph feeds the shipped trainer's sampler
(:class:`biogate.exporters.data.face_any_samples.Sampler`): 64-px canvases cut at any angle and
scale (faces 9-30 px), with the LFW-subset composites and face-free scenes beside them; WIDER FACE
has boxes but no landmarks, so a face's roll is taken as 0 and its angle label is the canvas's
turn. (Hard-negative mining is the standalone trainer's, ``train_face_detect_any``.) Held out: the
whole :class:`biogate.models.AnyAngleFaceDetector` cascade with this net as its proposer, MTCNN's
R-Net/O-Net behind it, on the test photographs turned by 0/90/180/270 and +-30 degrees; the metric
is the worst rotation's AP@0.5 (faces under ``eval_min_face`` px ignored), as in the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from biogate.errors import ConfigError
from biogate.exporters.data.layouts import DataSet
from biogate.exporters.registry import InferFn, ModelSpec
from biogate.exporters.training.task import Budget, Phase, Step, Task
from biogate.exporters.training.trainers import TrainerSpec, register_trainer

_HERE = "biogate.exporters.training.tasks.face_detect_any"


@dataclass(frozen=True)
class Config:
    batch: int = 48
    lr: float = 3e-3
    width: int = 24
    canvas: int = 64  # training sample side (multiple of 4)
    eval_images: int = 100  # at most this many held-out photographs
    eval_min_face: float = 40.0  # held-out faces under this side (px) are ignored
    rotations: int = 6  # held-out rotations: 0/90/180/270/+30/-30 (1: upright only)


def detect_photos(data: DataSet, limit: int) -> list[Any]:
    """Annotated photographs of a ``widerface`` part as upright :class:`DetectPhoto` (roll 0)."""
    from biogate.exporters.data.face_detect_data import DetectPhoto, box_quads
    from biogate.exporters.training.tasks.face_detect_yolo import photos_of

    out = []
    for p in photos_of(data, limit):
        boxes = np.asarray(p.boxes, np.float32).reshape(-1, 4)
        out.append(DetectPhoto(p.image, boxes, box_quads(boxes), np.zeros((0, 4), np.float32), p.source))
    return out


class DetectAnyTask(Task):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._photos: dict[str, list[Any]] = {}

    def photos(self, part: str) -> list[Any]:
        if part not in self._photos:
            limit = self.config.eval_images if part == "test" else len(getattr(self.env.split, part))
            self._photos[part] = detect_photos(getattr(self.env.split, part), limit)
        return self._photos[part]

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.data.face_any_samples import Sampler
        from biogate.exporters.nets.face_any import FaceAnyNet
        from biogate.exporters.training.samples import SampleSet

        cfg = self.config
        photos = [p for p in self.photos("train") if len(p.boxes)]
        if not photos:
            raise ConfigError(f"{self.env.data.spec}: no annotated face in the training photographs")
        sampler = Sampler(seed=self.env.seed, size=cfg.canvas, photos=photos)

        def make(i: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
            sampler.rng = rng  # every sample a pure function of (seed, epoch, index)
            return sampler.sample()

        dataset = SampleSet(max(cfg.batch, 64 * max(1, len(photos))), make, self.env.seed)
        steps = budget.for_phase(len(dataset) // cfg.batch)
        self.net = FaceAnyNet(cfg.width)
        opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=max(1, steps), pct_start=0.1
        )
        return Phase(
            name, steps, dataset, cfg.batch, {"net": self.net}, {"adamw": opt}, {"onecycle": sched}, _collate
        )

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        from biogate.exporters.training.train_face_detect_any import loss_fn

        with step.autocast():
            out = nets["net"](batch[0]).float()
        loss, parts = loss_fn(out, *batch[1:])
        step.backward(loss)
        step.step(phase.optimizers["adamw"], clip=5.0)
        return {"loss": float(loss.detach()), **parts}

    def module(self) -> Any:
        return self.net.eval()

    def evaluate(self, infer: InferFn) -> dict[str, float]:
        """The cascade on the held-out photographs at every rotation; ``metric``: worst AP@0.5."""
        from biogate.exporters.data.face_any_eval import ROTATIONS, evaluate_rotations
        from biogate.exporters.zoo.face_detect_any import detector

        cfg = self.config
        det = detector(infer, min_face=min(40.0, cfg.eval_min_face))
        res = evaluate_rotations(
            det.detect, self.photos("test"), ROTATIONS[: max(1, cfg.rotations)], min_face=cfg.eval_min_face
        )
        rots = [k for k in res if k.startswith("rot")]
        flat = {f"{k}_{m}": float(v) for k in rots for m, v in res[k].items()}
        worst = min(res[k]["ap50"] for k in rots)
        flat.update(
            metric=float(worst),
            worst_rotation_ap50=float(worst),
            recall=min(res[k]["recall"] for k in rots),
            worst_recall_at_p90=float(res["worst_recall_at_p90"]),
        )
        return flat

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry
        from biogate.models.face_detect_any import level_scales

        base = registry.get("face_detect_any")
        val = self.photos("val") or self.photos("train")

        def calibration_data(n: int) -> Any:
            import cv2

            for photo in val[:n]:
                h, w = photo.image.shape[:2]
                scale = level_scales(h, w, 40.0)[0]
                level = cv2.resize(photo.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                level = level[: max(4, level.shape[0] // 4 * 4), : max(4, level.shape[1] // 4 * 4)]
                yield {"image": (level.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()}

        return replace(
            base,
            build=self.module,
            evaluate=self.evaluate,
            calibration_data=calibration_data,
            description=(
                "Any-orientation face proposals for biogate.models.AnyAngleFaceDetector, trained by "
                f"biogate train on {self.env.data.spec} at every angle"
            ),
            calibration_description=f"first pyramid level of validation photographs of {self.env.data.spec}",
            evaluation=(
                f"the whole cascade on held-out photographs of {self.env.data.spec} at "
                f"{self.config.rotations} rotation(s); ap50 and recall are the worst rotation's"
            ),
            calib_samples=min(32, len(val)),
            training=training,
        )


def _collate(samples: list[tuple[np.ndarray, Any]]) -> tuple[Any, ...]:
    from biogate.exporters.training.train_face_detect_any import batch_tensors

    return batch_tensors(samples)


register_trainer(
    TrainerSpec(
        "face_detect_any",
        ("widerface",),
        "any-orientation face proposals (cascade with MTCNN R-Net/O-Net); worst AP@0.5 over 6 rotations",
        f"{_HERE}:DetectAnyTask",
        f"{_HERE}:Config",
        default_steps=6000,
    )
)
