"""The any-orientation face detector's first stage: a tiny fully convolutional proposal net.

It looks at one level of an image pyramid (RGB ``pixel / 255``, NCHW, any size) and predicts on a
stride-4 grid, per cell (channel order, raw):

* 0: face logit — a face whose side is 11-26 px at this level is centred near the cell;
* 1, 2: the face centre's offset from the cell centre, in units of :data:`UNIT` px;
* 3: ``log(side / UNIT)``;
* 4, 5: ``cos θ``, ``sin θ`` of the face's orientation (θ: counter-clockwise turn of the upright face).

Stem: two strided 3x3 convolutions to stride 4, then three 3x3 convolutions (the last two dilated)
for a ~47 px receptive field at ~1.3 kMAC per input pixel (plain convolutions: depthwise ones
were 3x slower to train on the CPU).  Decoding is numpy in :mod:`biogate.models.face_detect_any`
(which owns :data:`STRIDE`, :data:`UNIT`, :data:`CHANNELS`).
"""

from __future__ import annotations

import torch
from torch import nn

from biogate.models.face_any_geometry import CHANNELS


def _cbr(cin: int, cout: int, k: int = 3, s: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, s, pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FaceAnyNet(nn.Module):
    """``forward(x)`` → (N, 6, H/4, W/4) raw maps (see the module docstring)."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        self.stem = nn.Sequential(_cbr(3, width // 2, 3, 2), _cbr(width // 2, width, 3, 2))
        self.blocks = nn.Sequential(
            _cbr(width, width), _cbr(width, width, dilation=2), _cbr(width, width, dilation=2)
        )
        self.head = nn.Conv2d(width, CHANNELS, 1)
        with torch.no_grad():
            self.head.bias.zero_()
            self.head.bias[0] = -4.0  # few faces per cell: start near "no face"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


__all__ = ["FaceAnyNet"]
