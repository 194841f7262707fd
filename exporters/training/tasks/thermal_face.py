"""``thermal_face`` (seed 002) through the harness: identity and body temperature from a thermal crop.

Data: ``thermal:DIR`` (radiometric frames with identity and reference-temperature labels, optional
paired RGB images) or ``thermal-sim`` (the generator the shipped weights were trained on). Every
frame goes through the SDK's measurement chain (blackbody correction, face box, canthus reading,
crop) exactly as on the device. Phases, as the seed describes them: ``pretrain`` (RGB identity, 3×3×3
first layer; skipped without RGB images) → pruning to 3×3×1 → ``rounds`` (thermal identity +
temperature, RGB weight lowered 0.5 → 0.0). Held out: the test identities' temperature MAE and
thermal-only 1:N top-1 (each person enrolled with their first ``gallery`` captures).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from biogate.errors import ConfigError
from biogate.exporters.registry import InferFn, ModelSpec
from biogate.exporters.training.task import Budget, Phase, Step, Task
from biogate.exporters.training.trainers import TrainerSpec, register_trainer

_HERE = "biogate.exporters.training.tasks.thermal_face"


@dataclass(frozen=True)
class Config:
    batch: int = 64
    lr: float = 2e-3
    pretrain_share: float = 0.25  # of --steps, when there are RGB images
    rgb_start: float = 0.5
    rgb_step: float = 0.1
    rgb_end: float = 0.0
    weight_mode: str = "both"  # proportion | coefficient | both (spec §6 row 14)
    temp_loss_weight: float = 2.0
    ir_identity_weight: float = 1.0
    prune_batches: int = 16
    gallery: int = 3
    workers: int = 2  # processes generating thermal-sim data
    seed: int = 0  # generator seed of thermal-sim


def _arrays(data: Any, names: list[str], cfg: Config, cache: Any) -> tuple[dict, dict]:
    """(thermal arrays, RGB arrays) of a layout part, identity indices over ``names``."""
    from biogate.exporters.training.train_thermal import generate_set, rgb_arrays, thermal_arrays

    if data.kind == "thermal":
        return thermal_arrays(data, names), rgb_arrays(data, names)
    people = sorted({int(it.identity) for it in data.items})
    captures = int(data.extra["captures"])
    gen = generate_set(cfg.seed, "train", people, range(captures), True, cfg.workers, cache)
    index = {int(n): i for i, n in enumerate(names)}
    gen["identity"] = np.array([index[int(v)] for v in gen["identity"]])
    return gen, {"rgb": gen["rgb"], "identity": gen["identity"]}


class ThermalTask(Task):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        from biogate.exporters.nets.thermal import rgb_weight_schedule
        from biogate.exporters.zoo.thermal_face import CACHE

        split = env.split
        self.names = {p: getattr(split, p).identities for p in ("train", "val", "test")}
        # rank 0 generates (and caches) thermal-sim data first; the other ranks then read the cache
        self.sets = env.once(
            lambda: {p: _arrays(getattr(split, p), self.names[p], self.config, CACHE) for p in self.names}
        )
        self.ir, self.rgb = self.sets["train"]
        self.n_ids = len(self.names["train"])
        if self.config.weight_mode not in ("proportion", "coefficient", "both"):
            raise ConfigError(
                f"--set weight_mode={self.config.weight_mode}: choose proportion, coefficient or both"
            )
        self.weights = rgb_weight_schedule(self.config.rgb_start, self.config.rgb_step, self.config.rgb_end)
        self.pre_state: dict[str, Any] | None = None
        self.grads: Any = None
        self.net: Any = None

    def phases(self) -> list[tuple[str, float]]:
        if not len(self.rgb["identity"]):
            return [("rounds", 1.0)]
        share = self.config.pretrain_share
        return [("pretrain", share), ("rounds", 1.0 - share)]

    # -- phases ----------------------------------------------------------------------------------
    def build_phase(self, name: str, budget: Budget) -> Phase:
        import torch

        from biogate.exporters.nets.thermal import PretrainNet, ThermalFaceNet, prune_first_layer
        from biogate.exporters.training.distributed import Forward
        from biogate.exporters.training.samples import SampleSet, flip_lr
        from biogate.exporters.training.train_thermal import pretrain_loss

        cfg, ir, rgb = self.config, self.ir, self.rgb
        rgb_x = (
            (rgb["rgb"].astype(np.float32) / 127.5 - 1.0).transpose(0, 3, 1, 2)
            if len(rgb["identity"])
            else None
        )
        if name == "pretrain":

            def make_rgb(i: int, rng: np.random.Generator) -> dict[str, Any]:
                return {"rgb": flip_lr(rgb_x[i], rng), "y": int(rgb["identity"][i])}

            dataset = SampleSet(len(rgb["identity"]), make_rgb, self.env.seed)
            steps = budget.for_phase(len(dataset) // cfg.batch)
            self.pre = PretrainNet(self.n_ids)
            module = Forward(self.pre, pretrain_loss)
        else:

            def make(i: int, rng: np.random.Generator) -> dict[str, Any]:
                out = {
                    "ir": flip_lr(ir["ir"][i].astype(np.float32), rng),
                    "y": int(ir["identity"][i]),
                    "t": float(ir["core"][i]),
                    "coin": float(rng.random()),
                }
                if rgb_x is not None:
                    j = int(rng.integers(len(rgb["identity"])))
                    out.update(rgb=flip_lr(rgb_x[j], rng), rgb_y=int(rgb["identity"][j]))
                return out

            dataset = SampleSet(len(ir["identity"]), make, self.env.seed)
            steps = budget.for_phase(len(dataset) // cfg.batch)
            if self.pre_state is not None:
                pre = PretrainNet(self.n_ids)
                pre.load_state_dict(self.pre_state)
                self.net = ThermalFaceNet.from_pretrained(pre, prune_first_layer(pre.first, self.grads)[0])
            else:  # no RGB images: no pre-training; the thermal extractor starts from scratch
                self.net = ThermalFaceNet(self.n_ids)
            module = Forward(self.net, _rounds_loss)
        params = module.parameters()
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=5e-4)
        pct = 0.3 if name == "pretrain" else 0.15
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=max(1, steps), pct_start=pct)
        return Phase(
            name,
            steps,
            dataset,
            cfg.batch,
            {"net": module},
            {"adamw": opt},
            {"onecycle": sched},
            find_unused=True,
        )

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        net = nets["net"]
        with step.autocast():
            if phase.name == "pretrain":
                loss = net(batch["rgb"], batch["y"])
                parts = {"l_id_rgb": float(loss.detach())}
            else:
                w = self.weights[
                    min(len(self.weights) - 1, step.phase_index * len(self.weights) // step.phase_steps)
                ]
                loss, parts = net(batch, w, self.config)
                parts["rgb_weight"] = w
        step.backward(loss)
        step.step(phase.optimizers["adamw"])
        return parts

    def end_phase(self, phase: Phase) -> None:
        """After pre-training: the gradient-magnitude pruning of the first layer (step 501)."""
        if phase.name != "pretrain":
            return
        from biogate.exporters.training.train_thermal import prune

        _, keep, self.grads = prune(self.pre, self.ir["ir"], self.ir["identity"], self.config)
        self.pre_state = {k: v.detach().cpu().clone() for k, v in self.pre.state_dict().items()}
        self.env.log(f"pruned first layer: kept channel per filter {keep.tolist()}")

    def state_dict(self) -> dict[str, Any]:
        return {"pre": self.pre_state, "grads": self.grads}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pre_state, self.grads = state.get("pre"), state.get("grads")

    # -- held out --------------------------------------------------------------------------------
    def module(self) -> Any:
        from biogate.exporters.nets.thermal import ThermalExport

        return ThermalExport(self.net.eval()).eval()

    def evaluate(self, infer: InferFn, batch: int = 64) -> dict[str, float]:
        """Temperature MAE / p95 (°C) and thermal-only 1:N top-1 of the test identities."""
        from biogate.exporters.zoo.thermal_face import evaluate_set

        data = self.sets["test"][0]
        if int(np.bincount(data["identity"]).min()) <= self.config.gallery:
            raise ConfigError(
                f"{self.env.data.spec}: every test identity needs more than gallery={self.config.gallery} "
                "captures"
            )
        return evaluate_set(infer, data, self.config.gallery, batch)

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        from biogate.exporters import registry
        from biogate.exporters.training.train_thermal import canthus_core, fit_canthus, predict

        base = registry.get("thermal_face")
        val = self.sets["val"][0]
        cal = fit_canthus(self.ir)
        thresholds = dict(cal, alarm_c=base.thresholds.get("alarm_c", 37.3))
        if self.net is not None and len(val["core"]) > 1:
            _, t_val = predict(self.module(), val["ir"])
            thresholds["model_sigma_c"] = float((t_val - val["core"]).std())
            thresholds["canthus_sigma_c"] = float((canthus_core(val, cal) - val["core"]).std())

        def calibration_data(n: int) -> Any:
            for i in np.random.default_rng(0).permutation(len(val["core"]))[:n]:
                yield {"thermal": val["ir"][i : i + 1].astype(np.float32)}

        return replace(
            base,
            build=self.module,
            evaluate=self.evaluate,
            calibration_data=calibration_data,
            thresholds={k: float(v) for k, v in thresholds.items()},
            description=(
                f"{base.description.split(' Trained by')[0]} Trained by biogate train on "
                f"{self.env.data.spec}."
            ),
            calibration_description=f"validation-identity thermal crops of {self.env.data.spec}",
            evaluation=f"test identities of {self.env.data.spec} (model head vs reference core temperature)",
            training=training,
        )


def _rounds_loss(net: Any, batch: dict[str, Any], w: float, cfg: Config) -> tuple[Any, dict[str, float]]:
    """The mixed step on one batch: samples whose coin falls below the RGB weight train the RGB branch."""
    import torch

    from biogate.exporters.training.train_thermal import mixed_loss

    n = len(batch["y"])
    if "rgb" in batch and w > 0:
        use_rgb = (
            batch["coin"] < w
            if cfg.weight_mode != "coefficient"
            else torch.arange(n, device=batch["y"].device) < n // 2
        )
    else:
        use_rgb = torch.zeros(n, dtype=torch.bool, device=batch["y"].device)
    use_rgb[:2] = False  # at least two thermal samples (BatchNorm), whatever the coins say
    ir = ~use_rgb
    rgb = (batch["rgb"][use_rgb], batch["rgb_y"][use_rgb]) if bool(use_rgb.any()) else None
    loss, (l_rgb, l_t, l_id) = mixed_loss(
        net, batch["ir"][ir], batch["y"][ir], batch["t"][ir], rgb, w, n, cfg
    )
    return loss, {"l_id_rgb": l_rgb, "l_temp": l_t, "l_id_ir": l_id}


register_trainer(
    TrainerSpec(
        "thermal_face",
        ("thermal", "thermal-sim"),
        "seed 002 thermal identity + body temperature (RGB pre-training, pruning, RGB weight schedule)",
        f"{_HERE}:ThermalTask",
        f"{_HERE}:Config",
        default_steps=1500,
    )
)
