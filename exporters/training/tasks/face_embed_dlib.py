"""``face_embed_dlib``: fine-tune dlib's 128-d face ResNet on your identities (large-margin cosine loss).

Data: ``folders:DIR`` (one folder per person) or ``portraits``. Images are face crops; each becomes
the embedder's 150×150 chip by a centre square of ``crop`` × the shorter side (``crop=1``: the whole
crop; dlib chips show the face with about 25 % margin, so LFW's 250 px images want ``crop=0.5``),
resized. The training identities get a CosFace head; held out: 1:N identification (each test
identity enrolled with its first image) and verification (TAR at FAR over all test pairs). The
shipped cosine threshold is recalibrated for ``far`` on the validation identities' pairs.
``--eval lfw-pairs:DIR`` reports LFW's 10-fold accuracy, TAR at FAR and a ROC plot; ``--eval
folders:DIR`` an identification report. ``--steps 0`` evaluates the unmodified dlib model only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from biogate.exporters.data.layouts import DataSet
from biogate.exporters.registry import InferFn, ModelSpec
from biogate.exporters.training import verification as V
from biogate.exporters.training.task import Budget, Phase, Step, Task
from biogate.exporters.training.trainers import TrainerSpec, register_trainer

_HERE = "biogate.exporters.training.tasks.face_embed_dlib"
CHIP = 150


@dataclass(frozen=True)
class Config:
    batch: int = 32
    lr: float = 1e-4
    head_lr_scale: float = 100.0  # the new CosFace head learns faster than the pretrained trunk
    margin: float = 0.2
    scale: float = 30.0
    crop: float = 1.0
    far: float = 1e-3  # the operating point the shipped cosine threshold is set for
    max_pairs: int = 200_000


def chip(image: np.ndarray, crop: float) -> np.ndarray:
    """The 150×150 RGB chip of a face crop: centre square of ``crop`` × the shorter side, resized."""
    h, w = image.shape[:2]
    side = max(1, round(min(h, w) * crop))
    y, x = (h - side) // 2, (w - side) // 2
    square = image[y : y + side, x : x + side]
    interp = cv2.INTER_AREA if side > CHIP else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(square, (CHIP, CHIP), interpolation=interp))


def _cosface(m: Any, x: Any, y: Any) -> Any:
    import torch.nn.functional as F

    emb = F.normalize(m["net"](x).float(), dim=1)
    return F.cross_entropy(m["head"](emb, y), y)


class EmbedTask(Task):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.names = env.split.train.identities
        self.thresholds: dict[str, float] = {}
        self._emb: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.nets.dlib_resnet import load_dlib_facenet
        from biogate.exporters.nets.thermal import CosineClassifier
        from biogate.exporters.training.distributed import Forward
        from biogate.exporters.training.samples import SampleSet, flip_lr

        cfg, data = self.config, self.env.split.train
        index = {n: i for i, n in enumerate(self.names)}

        def make(i: int, rng: np.random.Generator) -> dict[str, Any]:
            img = chip(data.read(data.items[i]), cfg.crop).astype(np.float32)
            img = np.clip(img * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12), 0, 255)
            return {"image": flip_lr(img.transpose(2, 0, 1), rng), "y": index[data.items[i].identity]}

        dataset = SampleSet(len(data), make, self.env.seed)
        steps = budget.for_phase(len(dataset) // cfg.batch)
        self.net = load_dlib_facenet()
        head = CosineClassifier(len(self.names), cfg.scale, cfg.margin, dim=128)
        opt = torch.optim.Adam(
            [
                {"params": self.net.parameters()},
                {"params": head.parameters(), "lr": cfg.lr * cfg.head_lr_scale},
            ],
            lr=cfg.lr,
        )
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
        graph = Forward(torch.nn.ModuleDict({"net": self.net, "head": head}), _cosface)
        return Phase(name, steps, dataset, cfg.batch, {"graph": graph}, {"adam": opt}, {"cosine": sched})

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        with step.autocast():
            loss = nets["graph"](batch["image"], batch["y"])
        step.backward(loss)
        step.step(phase.optimizers["adam"])
        return {"cosface": float(loss.detach())}

    def module(self) -> Any:
        from biogate.exporters.zoo.face_embed_dlib import two_heads

        return two_heads(self.net.eval())

    # -- held out --------------------------------------------------------------------------------
    def embed(self, infer: InferFn, data: DataSet, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """(raw descriptors, L2-normalised embeddings) of every image of ``data``."""
        desc, emb = [], []
        for k in range(0, len(data), batch):
            chips = np.stack([chip(data.read(it), self.config.crop) for it in data.items[k : k + batch]])
            out = infer({"image": np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)})
            desc.append(np.asarray(out["descriptor"], np.float64))
            emb.append(np.asarray(out["embedding"], np.float64))
        return np.concatenate(desc), np.concatenate(emb)

    def _report(self, emb: np.ndarray, ids: list[str], cos: float | None = None) -> dict[str, float]:
        i, j = V.all_pairs(ids, self.config.max_pairs, self.env.seed)
        same = np.array([ids[a] == ids[b] for a, b in zip(i, j)])
        out = V.identification(emb, ids)
        out.update(V.verification((emb[i] * emb[j]).sum(1), same))
        cos = self.thresholds.get("cosine") if cos is None else cos
        if cos is not None:
            scores = (emb[i] * emb[j]).sum(1)
            # the gallery's decision at the bundle's threshold (the fitness contract's figures)
            out["fmr"] = float((scores[~same] >= cos).mean()) if (~same).any() else float("nan")
            out["fnmr"] = float((scores[same] < cos).mean()) if same.any() else float("nan")
        return out

    def finish(self, phase: Phase) -> None:
        """The cosine and distance thresholds for ``far`` on the validation identities' pairs."""
        from biogate.exporters.convert.runners import torch_infer

        val = self.env.split.val
        desc, emb = self.embed(torch_infer(self.export_spec({}), self.module()), val)
        ids = [it.identity for it in val.items]
        i, j = V.all_pairs(ids, self.config.max_pairs, self.env.seed)
        same = np.array([ids[a] == ids[b] for a, b in zip(i, j)])
        if not (~same).any():
            self.env.log("validation has a single identity: the shipped thresholds are kept")
            return
        cos = V.threshold_at_far((emb[i] * emb[j]).sum(1), same, self.config.far)
        dist = -V.threshold_at_far(-np.linalg.norm(desc[i] - desc[j], axis=1), same, self.config.far)
        self.thresholds = {"cosine": cos, "distance": dist}
        self.env.log(
            f"thresholds at validation FAR {self.config.far:g}: cosine {cos:.4f}, distance {dist:.4f}"
        )

    def evaluate(self, infer: InferFn, cos: float | None = None) -> dict[str, float]:
        """1:N top-1 (the metric), TAR at FAR and EER of the test identities."""
        _, emb = self.embed(infer, self.env.split.test)
        out = self._report(emb, [it.identity for it in self.env.split.test.items], cos)
        return {"metric": out["top1"], **out}

    def evaluate_shipped(self, spec: ModelSpec, infer: InferFn) -> dict[str, float]:
        return self.evaluate(infer, float(spec.thresholds["cosine"]))

    def evaluate_extra(
        self, data: DataSet, infer: InferFn, out: Path | None, spec: ModelSpec | None = None
    ) -> dict:
        if data.kind == "folders":
            _, emb = self.embed(infer, data)
            return self._report(emb, [it.identity for it in data.items])
        from biogate.exporters.training.report import draw_roc

        _, emb = self.embed(infer, data)
        pairs = data.extra["pairs"]
        a, b = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        same, folds = np.array([p[2] for p in pairs]), np.array([p[3] for p in pairs])
        scores = (emb[a] * emb[b]).sum(1)
        overlap = sorted(set(self.names) & {it.identity for it in data.items})
        result = {**V.lfw_accuracy(scores, same, folds), **V.verification(scores, same)}
        result["identities_also_in_training"] = float(len(overlap))
        if out is not None:
            far, tar, _ = V.roc(scores, same)
            draw_roc(
                out / f"roc_{data.kind}.png", {"this run": (far, tar)}, f"{self.spec.name} on {data.spec}"
            )
        return result

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry

        base = registry.get("face_embed_dlib")
        train = self.env.split.train

        def calibration_data(n: int) -> Any:
            for k in range(0, min(n, len(train)), 8):
                chips = np.stack(
                    [chip(train.read(it), self.config.crop) for it in train.items[k : min(n, k + 8)]]
                )
                yield {"image": np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)}

        return replace(
            base,
            build=self.module,
            evaluate=self.evaluate,
            metric="top1",
            higher_is_better=True,
            calibration_data=calibration_data,
            thresholds={**base.thresholds, **self.thresholds},
            description=(
                f"dlib's ResNet face embedder fine-tuned by biogate train on {self.env.data.spec} (CosFace, "
                f"margin {self.config.margin}); thresholds for FAR {self.config.far:g} on validation "
                "identities"
            ),
            calibration_description=f"chips of training identities of {self.env.data.spec}",
            evaluation=f"all image pairs and 1:N of the test identities of {self.env.data.spec}",
            calib_samples=min(100, len(train)),
            training=training,
        )


register_trainer(
    TrainerSpec(
        "face_embed_dlib",
        ("folders", "portraits"),
        "fine-tune dlib's 128-d face embedder on your identities; 1:N top-1 and TAR@FAR held out",
        f"{_HERE}:EmbedTask",
        f"{_HERE}:Config",
        eval_layouts=("lfw-pairs", "folders"),
        default_steps=2000,
    )
)
