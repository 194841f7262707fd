"""The contract between the harness and one model's training: :class:`Task`, :class:`Phase`, :class:`Step`.

A task says what to train (one or more phases, each with its modules, optimisers, schedulers and a
map-style dataset), how one step goes (:meth:`Task.train_step`), how the result is judged on the
held-out identities (:meth:`Task.evaluate`) and how it becomes a bundle (:meth:`Task.export_spec`).
The harness does everything else: processes, DDP, sampling, mixed precision, checkpoints, logging,
the curves, the export. Nothing here imports torch at module level, so the trainer catalogue
(``biogate train --help``) loads without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biogate.errors import ConfigError
from biogate.exporters.data.layouts import DataSet, Split
from biogate.exporters.registry import InferFn, ModelSpec


@dataclass
class Phase:
    """One stretch of training with its own modules and optimisers (most tasks have one).

    Attributes:
        name: shown in the progress bar and the metrics (``train``, ``pretrain``, ...).
        steps: optimiser steps of this phase.
        dataset: map-style dataset (``__len__``, ``__getitem__``, ``set_epoch``), e.g. a SampleSet.
        batch: the *global* batch size (every rank takes ``batch / world_size`` of it).
        modules: trained modules (DDP-wrapped when distributed, saved in checkpoints).
        optimizers / schedulers: by name; the harness steps every scheduler once per step.
        collate: batch collation (default: torch's ``default_collate``).
        frozen: modules used but not trained (moved to the device, never wrapped or saved).
        find_unused: DDP's ``find_unused_parameters`` (a step that leaves parameters unused).
    """

    name: str
    steps: int
    dataset: Any
    batch: int
    modules: dict[str, Any]
    optimizers: dict[str, Any]
    schedulers: dict[str, Any] = field(default_factory=dict)
    collate: Callable[[list[Any]], Any] | None = None
    frozen: dict[str, Any] = field(default_factory=dict)
    find_unused: bool = False


@dataclass(frozen=True)
class Budget:
    """How many steps a phase gets: ``--steps`` shared by phase weight, or ``--epochs`` passes."""

    steps: int | None = None
    epochs: float | None = None
    weight: float = 1.0

    def for_phase(self, steps_per_epoch: int) -> int:
        """This phase's steps, given how many global batches one pass over its data takes."""
        if self.epochs is not None:
            return max(1, round(self.epochs * max(1, steps_per_epoch)))
        if self.steps is not None:
            return max(0, round(self.steps * self.weight))
        raise ConfigError("give --steps N or --epochs N")


class Step:
    """What a task's ``train_step`` gets besides the batch: where it is and how to step safely.

    ``backward``/``step`` go through the mixed-precision grad scaler on CUDA (a no-op on CPU), so a
    task never touches AMP itself; ``autocast()`` wraps the forward pass. The harness zeroes every
    optimiser's gradients before each step.
    """

    def __init__(self, device: Any, scaler: Any, amp: bool) -> None:
        self.device, self.scaler, self.amp = device, scaler, amp
        self.index = 0  # global step (0-based) across phases
        self.phase_index = 0  # step within the phase
        self.phase_steps = 0

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.amp:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(device_type=self.device.type, dtype=torch.float16)

    def backward(self, loss: Any) -> None:
        self.scaler.scale(loss).backward()

    def step(self, optimizer: Any, clip: float | None = None, params: Any = None) -> None:
        """``optimizer.step()`` through the scaler, clipping the gradient norm to ``clip`` if given."""
        if clip is not None:
            import torch

            self.scaler.unscale_(optimizer)
            group_params = params or [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(group_params, clip)
        self.scaler.step(optimizer)

    @property
    def progress(self) -> float:
        """Fraction of the phase done before this step (0 … <1), for schedules a task runs itself."""
        return self.phase_index / max(1, self.phase_steps)


@dataclass
class Env:
    """Everything a task is built from."""

    data: DataSet
    split: Split
    evals: list[DataSet]
    config: Any
    seed: int
    out: Path
    device: Any
    world_size: int
    rank: int
    log: Callable[[str], None] = print
    #: ``once(fn)``: rank 0 runs ``fn`` first (e.g. to fill a cache in ``out``), then the other ranks
    once: Callable[[Callable[[], Any]], Any] = lambda fn: fn()


class Task:
    """One model's training. Subclasses implement the hooks; defaults suit a single-phase task."""

    #: set by the trainer catalogue
    spec: Any = None

    def __init__(self, env: Env) -> None:
        self.env = env
        self.config = env.config

    # -- training ------------------------------------------------------------------------------
    def phases(self) -> list[tuple[str, float]]:
        """``(name, share of --steps)`` of every phase, in order."""
        return [("train", 1.0)]

    def build_phase(self, name: str, budget: Budget) -> Phase:
        raise NotImplementedError

    def train_step(self, phase: Phase, nets: dict[str, Any], batch: Any, step: Step) -> dict[str, float]:
        """One optimiser step on this rank's share of the global batch; returns losses to log."""
        raise NotImplementedError

    def end_phase(self, phase: Phase) -> None:
        """After a phase's last step (every rank): keep what the next phase is built from."""

    def state_dict(self) -> dict[str, Any]:
        """What :meth:`end_phase` and :meth:`finish` kept, for checkpoints (must pickle)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    # -- after training (rank 0) ---------------------------------------------------------------
    def finish(self, phase: Phase) -> None:
        """Post-training work on the final modules (threshold calibration on validation)."""

    def module(self) -> Any:
        """The trained module exactly as the bundle's graph runs it (eval mode)."""
        raise NotImplementedError

    def evaluate(self, infer: InferFn) -> dict[str, float]:
        """Held-out metrics through ``infer`` (PyTorch or ONNX Runtime); must hold ``metric``."""
        raise NotImplementedError

    def export_spec(self, training: dict[str, Any]) -> ModelSpec:
        """The :class:`ModelSpec` of the trained module (``training`` goes into the manifest)."""
        raise NotImplementedError

    def shipped(self) -> tuple[ModelSpec, Any] | None:
        """The shipped model (spec, module) to compare with on the same held-out data; None if absent."""
        from biogate.exporters import registry

        spec = registry.get(self.spec.bundle)
        return spec, spec.build()

    def evaluate_shipped(self, spec: ModelSpec, infer: InferFn) -> dict[str, float]:
        """:meth:`evaluate` of the shipped model (``spec``), e.g. at its own input size and thresholds."""
        return self.evaluate(infer)

    def after_export(self, bundle: Path) -> None:
        """After the bundle is in place: training-side files a later tool needs (unhashed)."""

    def evaluate_extra(
        self, data: DataSet, infer: InferFn, out: Path | None, spec: ModelSpec | None = None
    ) -> dict[str, Any]:
        """Metrics on an ``--eval`` layout (all of it held out); plots under ``out`` (None: none).

        ``spec`` is the model behind ``infer`` when it is not this run's (the shipped one)."""
        raise ConfigError(f"{self.spec.name} has no evaluation on layout {data.kind!r}")


def parse_config(cls: type, overrides: dict[str, str], **given: Any) -> Any:
    """``cls()`` with ``--set key=value`` overrides (typed by the defaults) and ``given`` (non-None)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    values: dict[str, Any] = {}
    for key, text in overrides.items():
        if key not in fields:
            known = ", ".join(f"{k}={getattr(defaults, k)!r}" for k in fields)
            raise ConfigError(f"--set {key}: unknown option; this model takes {known}")
        values[key] = _typed(getattr(defaults, key), text, key)
    for key, value in given.items():
        if value is not None and key in fields:
            values[key] = value
    return dataclasses.replace(defaults, **values)


def _typed(default: Any, text: str, key: str) -> Any:
    try:
        if isinstance(default, bool):
            low = text.strip().lower()
            if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(text)
            return low in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            kind = type(default[0]) if default else str
            return tuple(kind(v) for v in text.split(",") if v.strip())
        return str(text)
    except ValueError:
        raise ConfigError(f"--set {key}={text}: expected a {type(default).__name__}") from None


def config_help(cls: type) -> str:
    """``key=default`` of every option of a task config, for ``--help``."""
    defaults = cls()
    return " ".join(f"{f.name}={getattr(defaults, f.name)}" for f in dataclasses.fields(cls))
