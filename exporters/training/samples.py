"""Map-style datasets whose every sample is a pure function of (seed, epoch, index).

Augmentation draws from a generator seeded by ``(seed, epoch, index)``, never from a process-wide
RNG, so a sample is the same whichever rank or DataLoader worker makes it, in a 1-process or an
N-process run, before or after a resume: the global batches of a run do not depend on how it was
distributed or interrupted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch.utils.data import Dataset

Make = Callable[[int, np.random.Generator], Any]


class SampleSet(Dataset):
    """``n`` samples; sample ``i`` of epoch ``e`` is ``make(i, default_rng([seed, e, i]))``."""

    def __init__(self, n: int, make: Make, seed: int = 0) -> None:
        self.n, self.make, self.seed = int(n), make, int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Any:
        return self.make(int(index), np.random.default_rng([self.seed, self.epoch, int(index)]))


def flip_lr(image: np.ndarray, rng: np.random.Generator, axis: int = -1) -> np.ndarray:
    """``image`` mirrored along ``axis`` with probability 1/2 (contiguous copy either way)."""
    return np.ascontiguousarray(np.flip(image, axis) if rng.random() < 0.5 else image)
