"""``face_inversion_dlib128`` (seed 003, an audit model) through the harness.

Data: face crops by identity, ``folders:DIR`` or ``portraits``; each image (and ``views``
augmented captures of it) becomes a 150×150 chip, the embedder is queried on it *only through
its output* (``encoder=torch``: the PyTorch rebuild of dlib's ResNet; or an embedder bundle folder),
and the inverse model learns embedding → the identity's average face (128×128, seed claim 2) with
L1 and input noise. Held out: mean L1 of the test identities' reconstructions to their average faces.
Embeddings are computed once per part and cached in ``OUT`` (rank 0 first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from biogate.exporters.data.layouts import DataSet
from biogate.exporters.registry import InferFn, ModelSpec
from biogate.exporters.training.task import Budget, Phase, Step, Task
from biogate.exporters.training.trainers import TrainerSpec, register_trainer

_HERE = "biogate.exporters.training.tasks.face_inversion"


@dataclass(frozen=True)
class Config:
    batch: int = 32
    lr: float = 1e-3
    width: float = 0.5  # channel multiplier (1 = the seed's network)
    residual: int = 1
    noise_variance: float = 0.001
    loss: str = "l1"  # l1 | l2 | l1+l2
    encoder: str = "torch"  # torch (dlib ResNet rebuild) | an embedder bundle folder
    views: int = 0  # augmented captures per image (the shipped weights: 39 per photograph)
    crop: float = 1.0  # chip = centre square of crop × the shorter side (as face_embed_dlib)


def pairs_of(data: DataSet, cfg: Config, seed: int, encode: Any) -> dict[str, np.ndarray]:
    """Chips' embeddings, identity labels and per-identity average faces of one layout part."""
    from biogate.exporters.audit.data import average_faces, embed, to_target
    from biogate.exporters.data.face_data import FaceSample, augmented_views
    from biogate.exporters.training.tasks.face_embed_dlib import chip

    names = data.identities
    index = {n: i for i, n in enumerate(names)}
    chips, labels = [], []
    for k, it in enumerate(data.items):
        image = data.read(it)
        h, w = image.shape[:2]
        sample = FaceSample(
            image=image, identity=it.identity, source=it.key, box=(0.0, 0.0, float(w), float(h))
        )
        for view in [sample, *augmented_views(sample, cfg.views, seed=seed * 100_003 + k)]:
            chips.append(chip(view.image, cfg.crop))
            labels.append(index[it.identity])
    chips_a, labels_a = np.stack(chips), np.asarray(labels)
    faces = average_faces(to_target(chips_a), labels_a, len(names))
    return {"embeddings": embed(encode, chips_a).astype(np.float32), "labels": labels_a, "faces": faces}


class InversionTask(Task):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.sets = env.once(self._pairs)
        self.dim = int(self.sets["train"]["embeddings"].shape[1])

    def _pairs(self) -> dict[str, dict[str, np.ndarray]]:
        """Every part's pairs, from ``OUT/inversion-pairs-<part>.npz`` when an earlier run cached them."""
        from biogate.exporters.training.train_inversion import load_encoder

        encode, out = None, {}
        for part in ("train", "val", "test"):
            data = getattr(self.env.split, part)
            path = self.env.out / f"inversion-pairs-{part}-{data.digest()[:12]}.npz"
            if path.is_file():
                with np.load(path) as z:
                    out[part] = {k: z[k] for k in z.files}
                continue
            encode = encode or load_encoder(self.config.encoder)
            out[part] = pairs_of(data, self.config, self.env.seed, encode)
            np.savez(path, **out[part])
        return out

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.nets.inversion import InverseNet, pixel_loss
        from biogate.exporters.training.distributed import Forward
        from biogate.exporters.training.samples import SampleSet

        cfg, train = self.config, self.sets["train"]

        def make(i: int, rng: np.random.Generator) -> dict[str, Any]:
            return {"embedding": train["embeddings"][i], "target": train["faces"][train["labels"][i]]}

        dataset = SampleSet(len(train["labels"]), make, self.env.seed)
        steps = budget.for_phase(len(dataset) // cfg.batch)
        self.net = InverseNet(self.dim, cfg.width, cfg.residual, cfg.noise_variance)
        criterion = pixel_loss(cfg.loss)
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
        graph = Forward(self.net, lambda m, emb, target: criterion(m(emb), target))
        return Phase(name, steps, dataset, cfg.batch, {"inverse": graph}, {"adam": opt}, {"cosine": sched})

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        with step.autocast():
            loss = nets["inverse"](batch["embedding"], batch["target"])
        step.backward(loss)
        step.step(phase.optimizers["adam"])
        return {self.config.loss: float(loss.detach())}

    def module(self) -> Any:
        return self.net.eval()

    def evaluate(self, infer: InferFn, batch: int = 32) -> dict[str, float]:
        """Mean L1 of the test identities' reconstructions to their average faces (lower is better)."""
        test = self.sets["test"]
        emb, tgt = test["embeddings"], test["faces"][test["labels"]]
        l1 = []
        for k in range(0, len(emb), batch):
            out = np.asarray(infer({"embedding": emb[k : k + batch]})["image"], np.float32)
            l1.append(np.abs(out - tgt[k : k + batch]).mean(axis=(1, 2, 3)))
        value = float(np.concatenate(l1).mean())
        return {"metric": value, "reconstruction_l1": value, "test_images": float(len(emb))}

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry

        base = registry.get(self.spec.bundle)
        train = self.sets["train"]

        def calibration_data(n: int) -> Any:
            emb = train["embeddings"][:n]
            for k in range(0, len(emb), 16):
                yield {"embedding": emb[k : k + 16]}

        return replace(
            base,
            build=self.module,
            inputs=[replace(base.inputs[0], shape=(-1, self.dim))],
            evaluate=self.evaluate,
            calibration_data=calibration_data,
            description=(
                f"Seed-003 black-box inverse model of the {self.config.encoder} face embedder (width "
                f"{self.config.width}); trained by biogate train on {self.env.data.spec}. An audit tool."
            ),
            calibration_description=f"embeddings of training identities of {self.env.data.spec}",
            calib_samples=min(76, len(train["labels"])),
            training=training,
        )


register_trainer(
    TrainerSpec(
        "face_inversion_dlib128",
        ("folders", "portraits"),
        "seed 003 black-box inverse of the face embedder (audit model): embedding -> average face",
        f"{_HERE}:InversionTask",
        f"{_HERE}:Config",
        default_steps=1000,
    )
)
