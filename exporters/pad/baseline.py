"""A simple *supervised* PAD baseline, to show what positive-only training costs or gains.

A small CNN (4 conv + ReLU, global average pool, FC) classifies genuine vs attack. It is trained on
genuine training faces and on attacks of :data:`SEEN_ATTACKS` made from those same training faces,
then scored on test faces — in particular on the attack species it never saw (held out), which is
the situation a deployed detector meets with a new attack instrument.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .protocol import present, to_tensor_layout

#: One species per family for training; the other five are held out.
SEEN_ATTACKS = ("print_halftone", "replay_tone", "partial_print")


class BaselineCNN(nn.Module):
    """Binary genuine/attack classifier; outputs the attack logit (higher = more likely an attack)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(w, 2 * w, 3, 2, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 2 * w, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(4 * w, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(image).mean(dim=(2, 3))).squeeze(1)


def training_set(
    faces: Sequence[np.ndarray],
    size: int,
    seed: int,
    per_face: int = 2,
    attacks: Sequence[str] = SEEN_ATTACKS,
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced genuine/attack presentations of the *training* faces: (images N×S×S×3, labels N).

    Each face gives ``per_face`` presentations of every seen species and as many genuine captures.
    """
    imgs, labels = [], []
    for i, face in enumerate(faces):
        for c in range(per_face * len(attacks)):
            imgs.append(present(face, size, seed * 7_777 + 31 * i + c))
            labels.append(0.0)
        for k, name in enumerate(attacks):
            for c in range(per_face):
                imgs.append(present(face, size, seed * 7_777 + 100_003 * (k + 1) + 31 * i + c, name))
                labels.append(1.0)
    return np.stack(imgs), np.asarray(labels, dtype=np.float32)


def train_baseline(
    images: np.ndarray, labels: np.ndarray, steps: int = 400, batch: int = 32, seed: int = 0
) -> BaselineCNN:
    """Adam + class-balanced BCE with random flips; returns the model in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = BaselineCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all = torch.from_numpy(to_tensor_layout(images))
    y_all = torch.from_numpy(labels)
    pos_weight = torch.tensor((labels == 0).sum() / max(1.0, (labels == 1).sum()))
    for _ in range(steps):
        idx = torch.from_numpy(rng.integers(0, len(images), size=min(batch, len(images))))
        x, y = x_all[idx], y_all[idx]
        if rng.random() < 0.5:
            x = x.flip(3)
        loss = F.binary_cross_entropy_with_logits(model(x), y, pos_weight=pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def baseline_scores(model: BaselineCNN, images: np.ndarray, chunk: int = 128) -> np.ndarray:
    """Attack logits for RGB ``uint8`` presentations."""
    parts = [
        model(torch.from_numpy(to_tensor_layout(images[i : i + chunk]))) for i in range(0, len(images), chunk)
    ]
    return torch.cat(parts).numpy().astype(np.float64)
