"""Which way up is this face? A 24-px quarter-turn classifier for the any-orientation cascade.

Input: the proposal's 24x24 crop turned by the proposal's angle, exactly as MTCNN's R-Net gets it
(RGB, ``(pixel - 127.5) / 128``, NCHW).  Output ``prob`` (N, 4): the probability that turning the
crop's angle by a further 0, 90, 180 or 270 degrees makes the face upright — R-Net scores faces
turned 60-120° from upright almost as high as upright ones, so it cannot tell the turns apart;
this net is trained to.  Three conv-conv-pool blocks (24 → 12 → 6 → 3) and one linear layer over
the 3x3 map (where the eyes and mouth are matters, so no global pooling); ~73 k parameters.
"""

from __future__ import annotations

import torch
from torch import nn

#: Crop side and number of turns (0, 90, 180, 270 degrees).
SIZE = 24
TURNS = 4


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class FaceOrientNet(nn.Module):
    """``forward(x)`` → (N, 4) turn probabilities; :meth:`logits` before the softmax (training)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _block(3, width), _block(width, 2 * width), _block(2 * width, 4 * width)
        )
        self.head = nn.Linear(4 * width * (SIZE // 8) ** 2, TURNS)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), 1)


__all__ = ["SIZE", "TURNS", "FaceOrientNet"]
