"""``face_refine`` (seed 000 refinement after SR) through the harness.

Data: face crops by identity, ``portraits`` (with their hand-checked landmarks) or ``folders:DIR``
with an optional ``DIR/landmarks.csv`` (``file,x1,y1,…,x5,y5`` in dlib's 5-point order, image
pixels); without it every crop is taken as aligned, the landmarks those of dlib's template in the
central face box of a crop with ``margin`` of its side around the face on each side. The refiner's
input is ``face_sr``'s output (the shipped weights, or ``sr=BUNDLE``) for the ↓2 of each HR crop;
its target the HR crop. Held out: Y-PSNR of the refined test crops and of their SR input.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from biogate.errors import ConfigError
from biogate.exporters.data.layouts import DataSet
from biogate.exporters.registry import InferFn, ModelSpec
from biogate.exporters.training.task import Budget, Phase, Step, Task
from biogate.exporters.training.trainers import TrainerSpec, register_trainer

_HERE = "biogate.exporters.training.tasks.face_refine"
SIZE = 128


@dataclass(frozen=True)
class Config:
    batch: int = 8
    lr: float = 1e-3
    margin: float = 0.25  # aligned crops without landmarks.csv: face box margin per side
    sr: str = "shipped"  # the SR model whose output is refined: shipped face_sr or a face_sr bundle
    eval_faces: int = 300


def _landmarks(data: DataSet, margin: float) -> dict[str, np.ndarray]:
    """5-point landmarks in *normalised* crop coordinates (0..1) for every item key."""
    if "landmarks" in data.extra:  # portraits: hand-checked landmarks in crop pixels
        out = {}
        for it in data.items:
            h, w = data.read(it).shape[:2]
            out[it.key] = np.asarray(data.extra["landmarks"][it.key], np.float32) / [w, h]
        return out
    table = data.root / "landmarks.csv" if data.root is not None else None
    if table is not None and table.is_file():
        out = {}
        with table.open(newline="") as fh:
            for line, row in enumerate(csv.reader(fh), start=1):
                if line == 1 and row and row[0] == "file":
                    continue
                try:
                    pts = np.array([float(v) for v in row[1:11]], np.float32).reshape(5, 2)
                except ValueError:
                    raise ConfigError(f"{table} line {line}: expected file,x1,y1,...,x5,y5") from None
                if (data.root / row[0]).is_file():
                    h, w = cv2.imread(str(data.root / row[0]), cv2.IMREAD_UNCHANGED).shape[:2]
                    out[row[0]] = pts / [w, h]
        missing = [it.key for it in data.items if it.key not in out]
        if missing:
            raise ConfigError(f"{table}: no landmarks for {missing[0]} (and {len(missing) - 1} more)")
        return out
    from biogate.models.align import DLIB5_TEMPLATE

    template = ((margin + DLIB5_TEMPLATE) / (1 + 2 * margin)).astype(np.float32)
    return {it.key: template for it in data.items}


class RefineTask(Task):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.marks = {
            p: _landmarks(getattr(env.split, p), self.config.margin) for p in ("train", "val", "test")
        }
        self._sr: Any = None
        self._held: dict[str, tuple[np.ndarray, ...]] = {}

    def sr(self, hr: np.ndarray) -> np.ndarray:
        """``face_sr`` of the bicubic ↓2 of ``hr`` (N, 3, 128, 128), clipped to [0, 1]."""
        from biogate.exporters.training.train_sr import downscale, load_net, weights_path
        from biogate.exporters.zoo.face_refine import SCALE, sr_of

        if self.config.sr == "shipped":
            if self._sr is None:
                self._sr = load_net(weights_path("dual", "edge", SCALE))
            return sr_of(hr, self._sr)
        if self._sr is None:
            from biogate import engine

            self._sr = engine.load(Path(self.config.sr), backend="onnxruntime", precision="fp32")
        out = [self._sr({"lr": downscale(hr[i : i + 16], 2)})["sr"] for i in range(0, len(hr), 16)]
        return np.clip(np.concatenate(out), 0.0, 1.0)

    def _crop(self, data: DataSet, i: int) -> tuple[np.ndarray, np.ndarray]:
        it = data.items[i]
        img = cv2.resize(data.read(it), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        return img.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0), self.marks_of(data, it) * SIZE

    def marks_of(self, data: DataSet, it: Any) -> np.ndarray:
        for part in self.marks.values():
            if it.key in part:
                return part[it.key]
        raise ConfigError(f"{data.spec}: no landmarks for {it.key}")

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.nets.refine import FaceRefiner, RefineConfig, refine_losses
        from biogate.exporters.training.distributed import Forward
        from biogate.exporters.training.samples import SampleSet
        from biogate.exporters.zoo.face_refine import coords_for

        data = self.env.split.train

        def make(i: int, rng: np.random.Generator) -> dict[str, Any]:
            hr, marks = self._crop(data, i)
            sr = self.sr(hr[None])[0]
            coords, mask = (a[0] for a in coords_for(marks[None]))
            parts = [sr, coords, mask, hr]
            if rng.random() < 0.5:  # mirror the face: coords x flips sign with it
                parts = [np.ascontiguousarray(p[..., ::-1]) for p in parts]
                parts[1] = parts[1] * np.array([-1, 1, 1], np.float32)[:, None, None]
            return dict(zip(("image", "coords", "mask", "hr"), (p.astype(np.float32) for p in parts)))

        dataset = SampleSet(len(data), make, self.env.seed)
        steps = budget.for_phase(len(dataset) // self.config.batch)
        self.net = FaceRefiner(RefineConfig())
        opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        graph = Forward(self.net, lambda m, *a: refine_losses(m, *a))
        return Phase(name, steps, dataset, self.config.batch, {"refiner": graph}, {"adam": opt})

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        with step.autocast():
            losses = nets["refiner"](batch["image"], batch["coords"], batch["mask"], batch["hr"])
        step.backward(losses["total"])
        step.step(phase.optimizers["adam"])
        return {k: float(v.detach()) for k, v in losses.items()}

    def module(self) -> Any:
        return self.net.eval()

    def held(self, part: str) -> tuple[np.ndarray, ...]:
        if part not in self._held:
            from biogate.exporters.zoo.face_refine import coords_for

            data = getattr(self.env.split, part)
            crops = [self._crop(data, i) for i in range(min(len(data), self.config.eval_faces))]
            hr = np.stack([c for c, _ in crops])
            coords, mask = coords_for(np.stack([m for _, m in crops]))
            self._held[part] = (self.sr(hr), coords, mask, hr)
        return self._held[part]

    def evaluate(self, infer: InferFn) -> dict[str, float]:
        """Held-out Y-PSNR/SSIM of the refined test crops (``metric``) and of the SR input."""
        from biogate.exporters.zoo.face_refine import evaluate_inputs

        return evaluate_inputs(infer, *self.held("test"))

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry

        base = registry.get("face_refine")
        sr, coords, mask, _ = self.held("val")

        def calibration_data(n: int) -> Any:
            for i in range(min(n, len(sr))):
                yield {"image": sr[i : i + 1], "coords": coords[i : i + 1], "mask": mask[i : i + 1]}

        return replace(
            base,
            build=self.module,
            evaluate=self.evaluate,
            calibration_data=calibration_data,
            description=(
                f"{base.description.split('; trained on')[0]}; trained by biogate train on "
                f"{self.env.data.spec}"
            ),
            calibration_description=f"face_sr outputs of validation-identity crops of {self.env.data.spec}",
            training=training,
        )


register_trainer(
    TrainerSpec(
        "face_refine",
        ("portraits", "folders"),
        "seed 000 refinement of face_sr outputs (3D coordinate map, UV texture, U-Net renderer)",
        f"{_HERE}:RefineTask",
        f"{_HERE}:Config",
        default_steps=2000,
    )
)
