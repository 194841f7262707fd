"""The trainer catalogue: every model ``biogate train`` can train, the layouts it takes, its task.

A trainer registers itself from a module of :mod:`biogate.exporters.training.tasks` (found by
name, like the model registry's modules), in a few lines::

    from biogate.exporters.training.trainers import TrainerSpec, register_trainer

    register_trainer(TrainerSpec(
        name="my_detector",              # the MODEL of `biogate train MODEL` (and the bundle it exports)
        layouts=("widerface",),          # --data kinds it trains on
        summary="what it trains, on what",
        task="biogate.exporters.training.tasks.my_detector:MyTask",   # a Task subclass, imported lazily
        config="biogate.exporters.training.tasks.my_detector:Config",  # its --set options (a dataclass)
    ))

Task and config are named as ``module:attribute`` strings so that listing the catalogue (``biogate
train --help``) never imports torch.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

from biogate.errors import ConfigError


@dataclass(frozen=True)
class TrainerSpec:
    """One trainable model.

    Attributes:
        name: the ``MODEL`` argument.
        layouts: ``--data`` layout kinds it trains on (first = the one the docs use).
        summary: one line for ``--help``.
        task: ``"module:Class"`` of its :class:`~biogate.exporters.training.task.Task`.
        config: ``"module:Class"`` of its options dataclass (``--set key=value``; needs ``batch``, ``lr``).
        bundle: registered model it replaces (for the shipped-model comparison); default ``name``.
        eval_layouts: ``--eval`` layout kinds it can report on.
        default_steps: ``--steps`` when neither ``--steps`` nor ``--epochs`` is given.
    """

    name: str
    layouts: tuple[str, ...]
    summary: str
    task: str
    config: str
    bundle: str = ""
    eval_layouts: tuple[str, ...] = ()
    default_steps: int = 1000

    def __post_init__(self) -> None:
        if not self.bundle:
            object.__setattr__(self, "bundle", self.name)

    def load(self, what: str) -> Any:
        module, _, attr = getattr(self, what).partition(":")
        return getattr(importlib.import_module(module), attr)


_TRAINERS: dict[str, TrainerSpec] = {}


def register_trainer(spec: TrainerSpec) -> TrainerSpec:
    """Add ``spec``; the same name twice is an error."""
    if spec.name in _TRAINERS and _TRAINERS[spec.name] != spec:
        raise ConfigError(f"trainer {spec.name!r} is registered twice")
    _TRAINERS[spec.name] = spec
    return spec


def load_all() -> None:
    """Import every module of :mod:`biogate.exporters.training.tasks` so their trainers register."""
    package = importlib.import_module("biogate.exporters.training.tasks")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")


def get(name: str) -> TrainerSpec:
    """The trainer registered as ``name``; the error lists the trainable models."""
    load_all()
    if name not in _TRAINERS:
        raise ConfigError(f"unknown model {name!r}; trainable: {', '.join(sorted(_TRAINERS))}")
    return _TRAINERS[name]


def all_trainers() -> list[TrainerSpec]:
    """Every registered trainer, by name."""
    load_all()
    return [_TRAINERS[k] for k in sorted(_TRAINERS)]
