"""What a ``biogate train`` run is, checked before any process starts (no torch needed here).

:class:`RunOptions` holds the command line; :func:`prepare` resolves the model, parses and splits
the layouts and the ``--set`` options, so that the launching process can refuse a mistake with one
clear error before it starts torchrun workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biogate.errors import ConfigError
from biogate.exporters.data import layouts

from . import trainers
from .task import parse_config


@dataclass
class RunOptions:
    """One ``biogate train`` invocation (see ``biogate train --help``)."""

    model: str
    data: str
    out: Path
    steps: int | None = None
    epochs: float | None = None
    batch: int | None = None
    lr: float | None = None
    seed: int = 0
    fold: int = 0
    folds: int = 5
    resume: bool = False
    device: str = "cpu"
    amp: bool = True
    checkpoint_every: int = 200
    log_every: int = 10
    workers: int = 0
    evals: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    int8: bool = False
    latency: bool = True
    export: bool = True
    progress: bool = True

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the run it continues."""
        keep = ("model", "data", "steps", "epochs", "batch", "lr", "seed", "fold", "folds", "overrides")
        return {k: getattr(self, k) for k in keep}


@dataclass
class Prepared:
    """The parsed, validated run: what :func:`prepare` checks before any process starts."""

    spec: trainers.TrainerSpec
    data: layouts.DataSet
    split: layouts.Split
    evals: list[layouts.DataSet]
    config: Any


def prepare(options: RunOptions) -> Prepared:
    """Check the model, the layouts, the split and the options; every mistake is one clear error."""
    spec = trainers.get(options.model)
    if options.steps is not None and options.epochs is not None:
        raise ConfigError("give --steps or --epochs, not both")
    data = layouts.parse(options.data, spec.layouts)
    split = data.split(options.fold, options.folds, options.seed)
    for name, part in (("training", split.train), ("validation", split.val), ("test", split.test)):
        if not len(part):
            raise ConfigError(f"--data {options.data}: the {name} part of the identity split is empty")
    evals = [layouts.parse(e, spec.eval_layouts or (), "--eval") for e in options.evals]
    config = parse_config(spec.load("config"), options.overrides, batch=options.batch, lr=options.lr)
    if config.batch < 1:
        raise ConfigError(f"--batch {config.batch}: must be at least 1")
    return Prepared(spec, data, split, evals, config)
