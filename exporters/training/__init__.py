"""biogate.exporters.training — the distributed training harness behind ``biogate train``.

* :mod:`.trainers` — the catalogue: every trainable model, its layouts and its task (no torch).
* :mod:`.task` — the contract of one model's training (:class:`~.task.Task`, :class:`~.task.Phase`).
* :mod:`.harness` — the loop: DDP, distributed sampling, checkpoints, resume, progress, metrics.
* :mod:`.distributed`, :mod:`.checkpoint`, :mod:`.samples`, :mod:`.report`, :mod:`.finish`.
* ``python -m biogate.exporters.training MODEL ...`` — the worker entry torchrun starts.
* The recipes' pieces, one module per model family (``train_*``), K-SVD, palm feedback, liveness
  cross-validation and augmentation, which the tasks of :mod:`.tasks` build on.

Nothing is imported eagerly, so the catalogue loads without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "RunOptions": "biogate.exporters.training.harness",
    "train": "biogate.exporters.training.harness",
    "prepare": "biogate.exporters.training.harness",
    "Task": "biogate.exporters.training.task",
    "Phase": "biogate.exporters.training.task",
    "TrainerSpec": "biogate.exporters.training.trainers",
    "register_trainer": "biogate.exporters.training.trainers",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'biogate.exporters.training' has no attribute {name!r}")


__all__ = list(_LAZY)
