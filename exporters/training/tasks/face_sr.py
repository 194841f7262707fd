"""``face_sr`` (seed 000 dual-channel SR) and ``face_sr_rdn`` (RDN baseline) through the harness.

Data: face crops by identity, ``folders:DIR`` or ``portraits``; each HR block is cut from a
training identity's crop (random zoom, shift and mirror), its LR input the antialiased bicubic
↓scale of it. Held out: the test identities' crops at ``lr_size·scale``. The dual net's K-SVD
dictionary is the shipped one (``edge``), a file (``dictionary=PATH``) or learnt here from the
training identities' images (``dictionary=train``: K-SVD, checkpointed in ``OUT``, resumable) —
the seed's faithful 4096×6144 dictionary is ``--set config=faithful --set dictionary=train``.
Acceptance (§6 #14) on the validation identities; a failed round trains again at half the
learning rate, up to ``max_rounds`` rounds (each ``--steps`` long).
"""

from __future__ import annotations

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

_HERE = "biogate.exporters.training.tasks.face_sr"


@dataclass(frozen=True)
class Config:
    batch: int = 32  # the spec's sample-set size
    lr: float = 2e-3
    lr_final: float = 2e-5
    config: str = "edge"  # edge | faithful (dual only)
    scale: int = 2
    lr_size: int = 64
    dictionary: str = "shipped"  # shipped | train | PATH.npz
    ksvd_iterations: int = 20
    ksvd_signals: int = 20000
    aux_weight: float = 1.0
    aux_final: float = 0.1
    min_psnr_gain: float = 1.0
    min_ssim_gain: float = 0.0
    max_rounds: int = 2
    blocks_per_image: int = 8
    eval_faces: int = 500


def hr_faces(data: DataSet, size: int, limit: int = 0) -> np.ndarray:
    """``(N, 3, size, size)`` float [0, 1] crops of a layout part (at most ``limit`` when > 0)."""
    items = data.items[:limit] if limit else data.items
    return np.stack(
        [
            cv2.resize(data.read(it), (size, size), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)
            for it in items
        ]
    ).astype(np.float32) / np.float32(255.0)


class SRTask(Task):
    """L1 multi-loss on HR blocks of the training identities (spec §3.1, §6 #11–#14)."""

    arch = "dual"

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.accepted = False
        self.rounds: list[dict[str, Any]] = []
        self.net: Any = None
        self._held: dict[str, np.ndarray] = {}

    def phases(self) -> list[tuple[str, float]]:
        return [(f"round{k + 1}", 1.0) for k in range(max(1, self.config.max_rounds))]

    def _dictionary(self) -> Path | None:
        cfg = self.config
        if self.arch != "dual":
            return None
        if cfg.dictionary == "shipped":
            if cfg.config != "edge":
                raise ConfigError(
                    "--set config=faithful has no shipped dictionary: add --set dictionary=train"
                )
            return None
        if cfg.dictionary != "train":
            path = Path(cfg.dictionary)
            if not path.is_file():
                raise ConfigError(f"--set dictionary={cfg.dictionary}: no such file")
            return path
        return self.env.once(self._learn_dictionary)

    def _learn_dictionary(self) -> Path:
        """K-SVD on grey patches of the training identities' images (cached and resumable in OUT)."""
        from biogate.exporters.nets.dual_sr import EDGE, FAITHFUL
        from biogate.exporters.training.ksvd import KSVDConfig, ksvd, sample_patches, save_dictionary

        cfg, net_cfg = self.config, EDGE if self.config.config == "edge" else FAITHFUL
        path = self.env.out / "dictionary.npz"
        if path.is_file():
            return path
        grey = [
            (
                it.key,
                cv2.cvtColor(self.env.split.train.read(it), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0,
            )
            for it in self.env.split.train.items
        ]
        x, counts = sample_patches(grey, net_cfg.dict_patch, cfg.ksvd_signals, seed=self.env.seed)
        kcfg = KSVDConfig(net_cfg.dict_atoms, 16, cfg.ksvd_iterations, self.env.seed, 1024)
        self.env.log(f"K-SVD dictionary {net_cfg.dict_patch**2}x{net_cfg.dict_atoms} on {x.shape[1]} patches")
        d, hist = ksvd(x, kcfg, checkpoint=self.env.out / "dictionary.ckpt.npz")
        provenance = {"data": self.env.data.spec, "sources": len(counts), "rmse_per_iteration": hist["rmse"]}
        return save_dictionary(path, d, provenance)

    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.training.samples import SampleSet
        from biogate.exporters.training.train_sr import build_net, downscale, hr_block

        cfg, data = self.config, self.env.split.train
        hr_size = cfg.lr_size * cfg.scale

        def make(i: int, rng: np.random.Generator) -> dict[str, Any]:
            im = data.read(data.items[i % len(data)]).astype(np.float32) / np.float32(255.0)
            h, w = im.shape[:2]
            cx, cy = w / 2 + rng.normal(0, 0.15) * w, h / 2 + rng.normal(0, 0.15) * h
            hr = hr_block(im, cx, cy, hr_size, rng.uniform(0.55, 1.0), rng.random() < 0.5)
            return {"lr": downscale(hr[None], cfg.scale)[0], "hr": hr}

        dataset = SampleSet(len(data) * cfg.blocks_per_image, make, self.env.seed)
        k = int(name.removeprefix("round")) - 1
        steps = 0 if self.accepted else budget.for_phase(len(dataset) // cfg.batch)
        if self.net is None:
            self.net = build_net(self.arch, cfg.config, cfg.scale, self._dictionary())
        params = [p for p in self.net.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=cfg.lr * 0.5**k, betas=(0.9, 0.999))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps), eta_min=cfg.lr_final * 0.5**k)
        from biogate.exporters.training.distributed import Forward

        return Phase(
            name,
            steps,
            dataset,
            cfg.batch,
            {"sr": Forward(self.net, "forward_train")},
            {"adam": opt},
            {"cos": sched},
        )

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        import torch.nn.functional as F

        cfg = self.config
        aux_w = cfg.aux_weight + (cfg.aux_final - cfg.aux_weight) * step.progress
        with step.autocast():
            main, aux = nets["sr"](batch["lr"])
            losses = [F.l1_loss(main.float(), batch["hr"])] + [F.l1_loss(a.float(), batch["hr"]) for a in aux]
        total = losses[0] + aux_w * sum(losses[1:], losses[0].new_zeros(()))
        step.backward(total)
        step.step(phase.optimizers["adam"])
        return {"l1": float(losses[0].detach()), "total": float(total.detach())}

    def end_phase(self, phase: Phase) -> None:
        """The acceptance test on the validation identities; a pass makes later rounds empty."""
        from biogate.exporters.training.train_sr import accept, evaluate_net

        if phase.steps == 0:
            return
        self.net.eval()
        metrics = evaluate_net(self.net, self.config.scale, self.config.lr_size, self.held("val"))
        self.accepted = accept(metrics, self.config.min_psnr_gain, self.config.min_ssim_gain)
        self.rounds.append(
            {"round": phase.name, "steps": phase.steps, "val": metrics, "accepted": self.accepted}
        )
        self.env.log(
            f"{phase.name}: validation PSNR gain {metrics['psnr_gain_db']:.3f} dB, accepted={self.accepted}"
        )
        self.net.train()

    def state_dict(self) -> dict[str, Any]:
        state = {"accepted": self.accepted, "rounds": self.rounds}
        if self.net is not None:
            state["net"] = {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from biogate.exporters.training.train_sr import build_net

        self.accepted, self.rounds = bool(state.get("accepted")), list(state.get("rounds", []))
        if "net" in state:
            self.net = build_net(self.arch, self.config.config, self.config.scale, self._dictionary())
            self.net.load_state_dict(state["net"])

    def held(self, part: str) -> np.ndarray:
        if part not in self._held:
            data = getattr(self.env.split, part)
            self._held[part] = hr_faces(data, self.config.lr_size * self.config.scale, self.config.eval_faces)
        return self._held[part]

    def module(self) -> Any:
        return self.net.eval()

    def evaluate(self, infer: InferFn) -> dict[str, float]:
        """Held-out Y-PSNR/SSIM of the model and of bicubic (``metric`` = PSNR in dB)."""
        from biogate.exporters.training.train_sr import evaluate_net

        m = evaluate_net(
            lambda lr: np.clip(infer({"lr": lr})["sr"], 0.0, 1.0),
            self.config.scale,
            self.config.lr_size,
            self.held("test"),
        )
        return {"metric": m["psnr"], **m, "accepted": float(self.accepted)}

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry
        from biogate.exporters.training.train_sr import downscale

        base = registry.get(self.spec.bundle)
        lr, hr = self.config.lr_size, self.config.lr_size * self.config.scale
        val = self.held("val")
        return replace(
            base,
            build=self.module,
            inputs=[replace(base.inputs[0], shape=(-1, 3, lr, lr))],
            outputs=[replace(base.outputs[0], shape=(-1, 3, hr, hr))],
            evaluate=self.evaluate,
            calibration_data=lambda n: (
                {"lr": downscale(val[i : i + 1], self.config.scale)} for i in range(min(n, len(val)))
            ),
            thresholds={"scale": float(self.config.scale)},
            description=(
                f"{base.description.split(', trained by')[0].split(', same data')[0]}; trained by biogate "
                f"train on {self.env.data.spec} ({self.config.config} config)"
            ),
            calibration_description=f"bicubic-downscaled validation-identity crops of {self.env.data.spec}",
            training=training,
        )


class RDNTask(SRTask):
    arch = "rdn"


_LAYOUTS = ("folders", "portraits")
register_trainer(
    TrainerSpec(
        "face_sr",
        _LAYOUTS,
        "seed 000 dual-channel face SR x2 (K-SVD dictionary channel; --set config=faithful dictionary=train)",
        f"{_HERE}:SRTask",
        f"{_HERE}:Config",
        default_steps=3000,
    )
)
register_trainer(
    TrainerSpec(
        "face_sr_rdn",
        _LAYOUTS,
        "RDN-style face SR x2 baseline, same data and recipe as face_sr",
        f"{_HERE}:RDNTask",
        f"{_HERE}:Config",
        default_steps=3000,
    )
)
