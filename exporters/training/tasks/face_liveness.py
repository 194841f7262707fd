"""``face_liveness`` (seed 004) through the harness: positive-only training on genuine faces.

Data: ``folders:DIR`` (any large face collection: genuine faces are all the training needs),
``portraits`` (the shipped weights' faces) or ``pad-folders:DIR`` (its genuine images train; the
held-out identities' genuine *and attack* images test, by species). The Δ threshold is calibrated
on the validation identities' genuine captures only (target BPCER); no attack ever trains or sets
it. Without real attacks of the test identities, the test attacks are the simulated species of
:mod:`biogate.exporters.pad.attacks` made from the test identities' faces. ``--eval pad-folders:DIR``
adds ISO/IEC 30107-3 figures per species on a separate set (and a DET plot).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from biogate.exporters.data.layouts import DataSet
from biogate.exporters.data.layouts.pad_folders import BONA_FIDE
from biogate.exporters.registry import InferFn, ModelSpec
from biogate.exporters.training.task import Budget, Phase, Step, Task
from biogate.exporters.training.trainers import TrainerSpec, register_trainer

_HERE = "biogate.exporters.training.tasks.face_liveness"


@dataclass(frozen=True)
class Config:
    batch: int = 16
    lr: float = 1e-4
    config: str = "tiny"  # tiny | edge | paper (the seed's width, 128 px)
    augment: str = "mild"  # mild | heavy
    delta_norm: str = "none"  # none | relative
    d_lr_scale: float = 1.0
    identity: str = "dlib"  # the frozen f: dlib | exemplar (trained on the training identities)
    identity_steps: int = 300
    identity_batch: int = 8
    latent_norm: str = "none"
    target_bpcer: float = 0.05
    val_captures: int = 3  # genuine captures per validation face (12 for the few portraits)
    test_rounds: int = 1  # rounds of test presentations (4 for the few portraits)
    eval_faces: int = 1000  # at most this many validation / test faces (spread over identities)


def genuine(data: DataSet) -> DataSet:
    """The bona fide items of a layout (all of them for ``folders`` and ``portraits``)."""
    return data.where(lambda it: it.label in (None, BONA_FIDE))


def _spread(data: DataSet, n: int) -> DataSet:
    """At most ``n`` items, taken round-robin over identities so every identity is represented."""
    if len(data) <= n:
        return data
    by_id: dict[str, list[int]] = {}
    for i, it in enumerate(data.items):
        by_id.setdefault(it.identity, []).append(i)
    order = [idx[k] for k in range(max(map(len, by_id.values()))) for idx in by_id.values() if k < len(idx)]
    return data.subset(sorted(order[:n]))


def presentations(data: DataSet, size: int) -> np.ndarray:
    """Real captures (face crops) at the model input size, RGB ``uint8`` N×S×S×3."""
    return np.stack(
        [cv2.resize(data.read(it), (size, size), interpolation=cv2.INTER_AREA) for it in data.items]
    )


class LivenessTask(Task):
    """The seed's GAN: G (encoder, decoders, re-encoder) against D, with a frozen identity net."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        from biogate.exporters.training.train_liveness import build_config

        self.cfg = build_config(self.config.config, self.config.delta_norm)
        self.train_faces = genuine(env.split.train)
        self.threshold = float("nan")
        self._protocols: dict[int, Any] = {}

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.nets.liveness import Discriminator, LivenessGenerator
        from biogate.exporters.pad.protocol import render_work, to_tensor_layout
        from biogate.exporters.training.liveness_augment import AUGMENTATIONS
        from biogate.exporters.training.samples import SampleSet
        from biogate.exporters.training.train_liveness import make_identity

        cfg, size, data = self.config, self.cfg.input_size, self.train_faces
        augment = AUGMENTATIONS[cfg.augment]

        def make(i: int, rng: np.random.Generator) -> dict[str, Any]:
            work = render_work(data.read(data.items[i % len(data)]), size)
            return {"image": to_tensor_layout(augment(work, size, rng)[None])[0]}

        dataset = SampleSet(max(len(data), cfg.batch), make, self.env.seed)
        steps = budget.for_phase(len(dataset) // cfg.batch)
        works = (
            [render_work(data.read(it), size) for it in _spread(data, 256).items]
            if cfg.identity != "dlib"
            else []
        )
        self.identity = make_identity(cfg.identity, works, size, cfg.identity_steps, self.env.seed)
        self.gen, self.disc = LivenessGenerator(self.cfg), Discriminator(self.cfg)
        opt_g = torch.optim.Adam(self.gen.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
        opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr * cfg.d_lr_scale, betas=(0.9, 0.999))
        scheds = {
            k: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=max(1, steps), eta_min=0.0)
            for k, o in (("g", opt_g), ("d", opt_d))
        }
        return Phase(
            name,
            steps,
            dataset,
            cfg.batch,
            {"gen": self.gen, "disc": self.disc},
            {"g": opt_g, "d": opt_d},
            scheds,
            frozen={"identity": self.identity},
        )

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        from biogate.exporters.training.train_liveness import LossWeights, train_step

        weights = LossWeights(identity_batch=self.config.identity_batch, latent_norm=self.config.latent_norm)
        opt = phase.optimizers
        _, d, g, parts = train_step(
            nets["gen"], nets["disc"], self.identity, opt["g"], opt["d"], batch["image"], weights, step
        )
        return {"g": g, "d": d, **parts}

    def state_dict(self) -> dict[str, Any]:
        return {"liveness_config": self.cfg.to_json()}

    # -- held out --------------------------------------------------------------------------------
    def protocol(self, size: int) -> Any:
        """Validation genuine captures and test presentations of the held-out identities at ``size``."""
        if size not in self._protocols:
            from biogate.exporters.pad.evaluate import Protocol, protocol_of
            from biogate.exporters.pad.protocol import EvaluationSet, Split

            cfg, split = self.config, self.env.split
            val = [self.env.data.read(it) for it in _spread(genuine(split.val), cfg.eval_faces).items]
            test = _spread(split.test, cfg.eval_faces)
            real = test.where(lambda it: it.label not in (None, BONA_FIDE))
            faces = [test.read(it) for it in genuine(test).items]
            protocol = protocol_of(
                Split([], val, faces),
                size,
                self.env.seed,
                cfg.val_captures,
                cfg.test_rounds,
                attacks=[] if len(real) else None,
            )
            if len(real):  # the layout has the test identities' own attack presentations: test on those
                attacks = {
                    s: presentations(real.where(lambda it, s=s: it.label == s), size) for s in _species(real)
                }
                protocol = Protocol(
                    protocol.split, protocol.val, EvaluationSet(presentations(genuine(test), size), attacks)
                )
            self._protocols[size] = protocol
        return self._protocols[size]

    def finish(self, phase: Phase) -> None:
        from biogate.exporters.convert.runners import torch_infer
        from biogate.exporters.pad.metrics import calibrate_threshold
        from biogate.exporters.zoo.face_liveness import delta_scorer

        probe = self.export_spec({})
        scores = delta_scorer(torch_infer(probe, self.module()))(
            self.protocol(self.cfg.input_size).val.bona_fide
        )
        self.threshold = calibrate_threshold(scores, self.config.target_bpcer)
        self.env.log(
            f"threshold Δ = {self.threshold:.6g} at validation BPCER ≤ {self.config.target_bpcer:.0%}"
        )

    def module(self) -> Any:
        from biogate.exporters.nets.liveness import LivenessDelta

        return LivenessDelta(self.gen.eval()).eval()

    def evaluate(self, infer: InferFn, size: int | None = None, tau: float | None = None) -> dict[str, float]:
        """ACER (the metric), worst-species APCER and BPCER on the held-out identities."""
        from biogate.exporters.zoo.face_liveness import evaluate_protocol

        size = size or self.cfg.input_size
        return evaluate_protocol(infer, self.protocol(size), self.threshold if tau is None else tau)

    def evaluate_shipped(self, spec: ModelSpec, infer: InferFn) -> dict[str, float]:
        return self.evaluate(infer, int(spec.inputs[0].shape[-1]), float(spec.thresholds["delta"]))

    def evaluate_extra(
        self, data: DataSet, infer: InferFn, out: Path | None, spec: ModelSpec | None = None
    ) -> dict:
        """ISO/IEC 30107-3 figures per species on a ``pad-folders`` set (all held out); DET under ``out``."""
        from biogate.exporters.pad.det_plot import draw_det
        from biogate.exporters.pad.metrics import pad_report
        from biogate.exporters.zoo.face_liveness import delta_scorer

        size = int(spec.inputs[0].shape[-1]) if spec is not None else self.cfg.input_size
        tau = float(spec.thresholds["delta"]) if spec is not None else self.threshold
        score = delta_scorer(infer)
        bona = score(presentations(genuine(data), size))
        attacks = {
            s: score(presentations(data.where(lambda it, s=s: it.label == s), size))
            for s in data.extra["species"]
        }
        report = pad_report(bona, attacks, tau)
        if out is not None:
            curves = {s: (bona, a) for s, a in attacks.items()}
            draw_det(out / f"det_{data.kind}.png", curves, title=f"{self.spec.name} on {data.spec}")
        return {
            **report.summary(),
            **{f"apcer_{k}": v for k, v in report.apcer.items()},
            "n_bona_fide": report.n_bona_fide,
            **{f"n_{k}": v for k, v in report.n_attacks.items()},
        }

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry
        from biogate.exporters.zoo.face_liveness import protocol_calibration

        base, size = registry.get("face_liveness"), self.cfg.input_size
        return replace(
            base,
            build=self.module,
            inputs=[replace(base.inputs[0], shape=(-1, 3, size, size))],
            evaluate=self.evaluate,
            calibration_data=lambda n: protocol_calibration(self.protocol(size), n),
            thresholds={**base.thresholds, "delta": self.threshold},
            description=(
                f"Positive-only silent face liveness (seed 004), config {self.config.config}, Δ form "
                f"{self.config.delta_norm}; trained by biogate train on the genuine faces of "
                f"{self.env.data.spec}; "
                f"threshold calibrated on validation identities for BPCER {self.config.target_bpcer:.0%}"
            ),
            calibration_description=f"genuine validation-identity captures of {self.env.data.spec}",
            evaluation=(
                f"test identities of {self.env.data.spec}: genuine captures and "
                + (
                    "their attack presentations"
                    if self.env.data.kind == "pad-folders"
                    else "simulated attacks"
                )
            ),
            training=training,
        )


def _species(data: DataSet) -> list[str]:
    return sorted({str(it.label) for it in data.items})


def load_generator(run: str | Path) -> Any:
    """The trained generator (eval mode) of a ``biogate train face_liveness`` run folder."""
    from biogate.exporters.nets.liveness import LivenessConfig, LivenessGenerator
    from biogate.exporters.training import checkpoint

    blob = checkpoint.load(Path(run) / "checkpoints" / checkpoint.LAST)
    gen = LivenessGenerator(LivenessConfig.from_json(blob["task"]["liveness_config"]))
    gen.load_state_dict(blob["modules"]["gen"])
    return gen.eval()


register_trainer(
    TrainerSpec(
        "face_liveness",
        ("folders", "portraits", "pad-folders"),
        "seed 004 positive-only silent liveness (GAN on genuine faces; Δ threshold on validation identities)",
        f"{_HERE}:LivenessTask",
        f"{_HERE}:Config",
        eval_layouts=("pad-folders",),
        default_steps=2000,
    )
)
