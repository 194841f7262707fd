"""Seed 001 palm models through the harness: ``palm_sr``, ``palm_liveness`` (SR input), ``palm_liveness_raw``.

Data: ``palm-dicom:DIR`` (a detector's DICOM export with ``labels.csv``; ``hr/`` references for SR)
or ``palm-sim`` (the project's simulator, what the shipped weights were trained on). Fake kinds in
``exclude`` (default ``resin_bones``, the "first seen in the field" kind) never train; the held-out
ACER is over the kinds seen in training, with every kind's APCER reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from biogate.errors import ConfigError
from biogate.exporters.data.layouts import DataSet
from biogate.exporters.registry import InferFn, ModelSpec
from biogate.exporters.training.task import Budget, Phase, Step, Task
from biogate.exporters.training.trainers import TrainerSpec, register_trainer

_HERE = "biogate.exporters.training.tasks.palm"


@dataclass(frozen=True)
class SRConfig:
    batch: int = 16
    lr: float = 1e-3
    patch: int = 32
    variant: str = "srcnn"
    scale: int = 2
    patches_per_image: int = 4
    exclude: tuple[str, ...] = ("resin_bones",)


@dataclass(frozen=True)
class LivenessConfig:
    batch: int = 32
    lr: float = 2e-3
    surrogate: str = "logistic"
    exclude: tuple[str, ...] = ("resin_bones",)
    sr: str = "shipped"  # palm_liveness only: "shipped" palm SR weights, or a palm_sr bundle folder
    threshold: float = 0.5


def palm_set(data: DataSet, need_hr: bool = False) -> Any:
    """The images of a palm layout (or one part of it) as a ``train_palm.PalmSet``."""
    from biogate.exporters.data.layouts.palm import read_counts
    from biogate.exporters.training import train_palm
    from biogate.models.palm import log_attenuation

    if data.kind == "palm-sim":
        part = data.items[0].key.split("/")[0] if data.items else "train"
        return train_palm.load_split(part, scale_down=int(data.extra["divisor"]))
    if not data.items:
        raise ConfigError(f"{data.spec}: no images in this part of the split")
    if need_hr:
        missing = [it.key for it in data.items if not it.label["hr"]]
        if missing:
            raise ConfigError(
                f"{data.spec}: palm_sr needs hr/<id> reference images; missing {data.root}/hr/{missing[0]}"
            )
    raw = [read_counts(data.path(it)) for it in data.items]
    for it, img in zip(data.items, raw):
        if img.shape != raw[0].shape:
            raise ConfigError(f"{data.path(it)}: {img.shape} differs from the other images' {raw[0].shape}")
    hr = [read_counts(data.root / "hr" / it.key) for it in data.items] if need_hr else []
    raw_a = np.stack(raw)
    lr = np.stack([log_attenuation(r) for r in raw_a])
    hr_a = np.stack([log_attenuation(h) for h in hr]) if hr else np.zeros((len(raw_a), 1, 1), np.float32)
    labels = np.array([it.label["live"] for it in data.items], np.int64)
    kinds = np.array([it.label["kind"] for it in data.items])
    return train_palm.PalmSet(raw_a, lr, hr_a, labels, kinds)


class PalmSRTask(Task):
    """L2 on aligned LR/HR patches that show some of the hand (seed 001 §2.2)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.train_set = palm_set(env.split.train, need_hr=True).without(*self.config.exclude)
        self.scale = self.train_set.hr.shape[-1] // self.train_set.lr.shape[-1]
        if self.scale < 2 or self.train_set.lr.shape[-1] < self.config.patch:
            raise ConfigError(
                f"{env.data.spec}: hr/ images must be ≥2x the device images and these ≥ patch "
                f"{self.config.patch} px (got {self.train_set.lr.shape[-2:]} → "
                f"{self.train_set.hr.shape[-2:]})"
            )
        self._test: Any = None

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.nets.palm import SR_VARIANTS
        from biogate.exporters.training.samples import SampleSet
        from biogate.exporters.training.train_palm import sr_patch

        cfg, data = self.config, self.train_set
        dataset = SampleSet(
            len(data) * cfg.patches_per_image,
            lambda i, rng: sr_patch(
                data.lr[i % len(data)], data.hr[i % len(data)], self.scale, cfg.patch, rng
            ),
            self.env.seed,
        )
        steps = budget.for_phase(len(dataset) // cfg.batch)
        self.net = SR_VARIANTS[cfg.variant](scale=self.scale)
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
        return Phase(name, steps, dataset, cfg.batch, {"sr": self.net}, {"adam": opt}, {"cosine": sched})

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        import torch.nn.functional as F

        with step.autocast():
            loss = F.mse_loss(nets["sr"](batch["lr"]), batch["hr"])
        step.backward(loss)
        step.step(phase.optimizers["adam"])
        return {"mse": float(loss.detach())}

    def module(self) -> Any:
        return self.net.eval()

    def _test_set(self) -> Any:
        if self._test is None:
            self._test = palm_set(self.env.split.test, need_hr=True)
        return self._test

    def evaluate(self, infer: InferFn, batch: int = 16) -> dict[str, float]:
        """Mean PSNR (the metric) and SSIM of the SR output vs the reference detector, and bicubic's."""
        from biogate.exporters.training.train_palm import bicubic, sr_metrics

        data = self._test_set()
        sr = np.concatenate(
            [infer({"lr": data.lr[i : i + batch][:, None]})["sr"][:, 0] for i in range(0, len(data), batch)]
        )
        m = sr_metrics(np.clip(sr, 0, 1), bicubic(data.lr, sr.shape[-1] // data.lr.shape[-1]), data.hr)
        return {"metric": m["psnr_sr"], **m, "samples": float(len(data))}

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry

        base = registry.get("palm_sr")
        h, w = self.train_set.lr.shape[-2:]
        val = palm_set(self.env.split.val)

        def calibration_data(n: int) -> Any:
            for i in np.random.default_rng(1).permutation(len(val))[:n]:
                yield {"lr": val.lr[i][None, None]}

        return replace(
            base,
            build=self.module,
            inputs=[replace(base.inputs[0], shape=(-1, 1, h, w))],
            outputs=[replace(base.outputs[0], shape=(-1, 1, h * self.scale, w * self.scale))],
            evaluate=self.evaluate,
            calibration_data=calibration_data,
            description=f"{base.description.split(' trained ')[0]}; trained by biogate train on "
            f"{self.env.data.spec}",
            evaluation=f"test identities of {self.env.data.spec} (reference-detector scans)",
            calibration_description=f"validation-identity device images of {self.env.data.spec}",
            training=training,
        )


class PalmLivenessTask(Task):
    """The 0/1-loss surrogate on live and fake palms, with random flips (seed 001 §2.3–2.4)."""

    use_sr = True

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.train_set = palm_set(env.split.train).without(*self.config.exclude)
        kinds = set(self.train_set.kinds.tolist())
        if 1 not in self.train_set.labels or 0 not in self.train_set.labels:
            raise ConfigError(f"{env.data.spec}: the training identities need both live and fake palms")
        self.seen = tuple(sorted(k for k in kinds if k != "live"))
        self._sr: Any = None
        self._images: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def sr(self, lr: np.ndarray) -> np.ndarray:
        """Model input of normalised device images: super-resolved (palm_liveness) or as they are."""
        if not self.use_sr:
            return lr
        from biogate.exporters.training import train_palm

        if self._sr is None:
            if self.config.sr == "shipped":
                net = train_palm.load_sr()
                self._sr = lambda x: train_palm.sr_apply(net, x)
            else:
                from biogate import engine

                eng = engine.load(Path(self.config.sr), backend="onnxruntime", precision="fp32")
                self._sr = lambda x: np.concatenate(
                    [
                        np.clip(eng({"lr": x[i : i + 32][:, None]})["sr"][:, 0], 0, 1)
                        for i in range(0, len(x), 32)
                    ]
                ).astype(np.float32)
        return self._sr(lr)

    def images(self, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if part not in self._images:
            data = self.train_set if part == "train" else palm_set(getattr(self.env.split, part))
            self._images[part] = (self.sr(data.lr), data.labels, data.kinds)
        return self._images[part]

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.nets.palm import PalmLivenessNet
        from biogate.exporters.training.samples import SampleSet, flip_lr

        cfg = self.config
        x, y, _ = self.images("train")

        def make(i: int, rng: np.random.Generator) -> dict[str, Any]:
            img = flip_lr(flip_lr(x[i], rng, -1), rng, -2)
            return {"image": img[None], "label": int(y[i])}

        dataset = SampleSet(len(x), make, self.env.seed)
        steps = budget.for_phase(len(dataset) // cfg.batch)
        self.net = PalmLivenessNet()
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
        return Phase(name, steps, dataset, cfg.batch, {"net": self.net}, {"adam": opt}, {"cosine": sched})

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        from biogate.exporters.nets.palm import zero_one_loss, zero_one_surrogate

        with step.autocast():
            logits = nets["net"](batch["image"])
            loss = zero_one_surrogate(logits.float(), batch["label"], kind=self.config.surrogate)
        step.backward(loss)
        step.step(phase.optimizers["adam"])
        return {
            "surrogate": float(loss.detach()),
            "zero_one": float(zero_one_loss(logits.detach(), batch["label"])),
        }

    def module(self) -> Any:
        from biogate.exporters.nets.palm import WithSoftmax

        return WithSoftmax(self.net.eval()).eval()

    def evaluate(self, infer: InferFn) -> dict[str, float]:
        """ACER (the metric) over the seen fake kinds at the threshold, BPCER and every kind's APCER."""
        from biogate.exporters.zoo.palm_liveness import liveness_metrics, scores_of

        x, labels, kinds = self.images("test")
        return liveness_metrics(scores_of(infer, x), labels, kinds, self.config.threshold, self.seen)

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters.zoo.palm_liveness import make_spec

        x_val, _, _ = self.images("val")
        size = int(x_val.shape[-1])
        spec = make_spec(
            self.spec.name,
            self.use_sr,
            self.module,
            size,
            f"palm liveness classifier trained by biogate train on {self.env.data.spec} "
            f"({'super-resolved' if self.use_sr else 'raw'} input; fake kinds seen: {', '.join(self.seen)})",
        )

        def calibration_data(n: int) -> Any:
            for i in np.random.default_rng(2).permutation(len(x_val))[:n]:
                yield {"image": x_val[i][None, None]}

        return replace(
            spec,
            inputs=[replace(spec.inputs[0], shape=(-1, 1, int(x_val.shape[-2]), size))],
            evaluate=self.evaluate,
            calibration_data=calibration_data,
            thresholds={"live": self.config.threshold},
            evaluation=f"test identities of {self.env.data.spec}: live and every fake kind",
            calibration_description=f"validation-identity images of {self.env.data.spec}, live and fake",
            training=training,
        )

    def after_export(self, bundle: Path) -> None:
        """Keep the training checkpoint in the bundle, so ``biogate palm feedback`` can fine-tune it."""
        from biogate.exporters.training.palm_feedback import CHECKPOINT
        from biogate.exporters.training.train_palm import save_checkpoint

        save_checkpoint(
            self.net,
            bundle / CHECKPOINT,
            net={},
            input="sr" if self.use_sr else "raw",
            seen_kinds=list(self.seen),
        )


class PalmLivenessRawTask(PalmLivenessTask):
    """The same classifier on the raw low-resolution device image (seed 001 claim 7)."""

    use_sr = False


_LAYOUTS = ("palm-dicom", "palm-sim")
register_trainer(
    TrainerSpec(
        "palm_sr",
        _LAYOUTS,
        "seed 001 x2 palm radiograph SR (SRCNN-style); needs hr/ references in palm-dicom",
        f"{_HERE}:PalmSRTask",
        f"{_HERE}:SRConfig",
        default_steps=600,
    )
)
register_trainer(
    TrainerSpec(
        "palm_liveness",
        _LAYOUTS,
        "seed 001 live/fake palm classifier on super-resolved images (--set sr=shipped|BUNDLE)",
        f"{_HERE}:PalmLivenessTask",
        f"{_HERE}:LivenessConfig",
        default_steps=400,
    )
)
register_trainer(
    TrainerSpec(
        "palm_liveness_raw",
        _LAYOUTS,
        "seed 001 live/fake palm classifier on the raw device image",
        f"{_HERE}:PalmLivenessRawTask",
        f"{_HERE}:LivenessConfig",
        default_steps=400,
    )
)
