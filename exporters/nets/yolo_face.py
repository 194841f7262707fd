"""The seed's single-stage face detector: a small YOLOv5-style net with a quadrilateral head.

Backbone: strided 3x3 conv-BN-SiLU stages with CSP-style residual blocks down to stride 16; a
light FPN joins stride 16 into stride 8; one 1x1 head per level.  Every cell of a level predicts
(channel order, raw):

* 0: objectness logit;
* 1-4: box as YOLOv5 encodes it: centre ``(2 sigmoid(t) - 0.5 + cell) * stride``, side
  ``(2 sigmoid(t))**2 * anchor``;
* 5-12: the face quadrilateral's four vertices (top-left, top-right, bottom-right, bottom-left of
  the upright face) as offsets from the box centre in units of the anchor.

Decoding lives in :class:`biogate.models.face_detect.YoloFaceDetector` (numpy), which also holds the
level strides and anchors (:data:`biogate.models.face_detect.YOLO_LEVELS`) so the two sides
cannot disagree.  The graph takes RGB ``pixel / 255`` NCHW of any size divisible by 16.
"""

from __future__ import annotations

import torch
from torch import nn

from biogate.models.face_detect import YOLO_CHANNELS


def _cbs(cin: int, cout: int, k: int = 3, s: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


class _CSP(nn.Module):
    """Split channels, run residual 3x3 pairs on one half, concatenate, mix (YOLOv5's C3, smaller)."""

    def __init__(self, c: int, n: int = 1) -> None:
        super().__init__()
        half = c // 2
        self.a, self.b = _cbs(c, half, 1), _cbs(c, half, 1)
        self.blocks = nn.ModuleList(nn.Sequential(_cbs(half, half, 1), _cbs(half, half, 3)) for _ in range(n))
        self.out = _cbs(2 * half, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.a(x)
        for block in self.blocks:
            a = a + block(a)
        return self.out(torch.cat([a, self.b(x)], 1))


class YoloFace(nn.Module):
    """``forward(x)`` → ``(p8, p16)``: raw predictions (N, 13, H/8, W/8) and (N, 13, H/16, W/16)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(_cbs(3, w, 3, 2), _cbs(w, 2 * w, 3, 2), _CSP(2 * w))  # /4
        self.s8 = nn.Sequential(_cbs(2 * w, 4 * w, 3, 2), _CSP(4 * w, 2))  # /8
        self.s16 = nn.Sequential(_cbs(4 * w, 6 * w, 3, 2), _CSP(6 * w, 2))  # /16
        self.lat16 = _cbs(6 * w, 4 * w, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.fuse8 = nn.Sequential(_cbs(8 * w, 4 * w, 1), _CSP(4 * w))
        self.head8 = nn.Conv2d(4 * w, YOLO_CHANNELS, 1)
        self.head16 = nn.Conv2d(6 * w, YOLO_CHANNELS, 1)
        with torch.no_grad():  # start with low objectness, as YOLOv5 does, so early losses are sane
            for head in (self.head8, self.head16):
                head.bias.zero_()
                head.bias[0] = -4.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c4 = self.stem(x)
        c8 = self.s8(c4)
        c16 = self.s16(c8)
        p8 = self.fuse8(torch.cat([c8, self.up(self.lat16(c16))], 1))
        return self.head8(p8), self.head16(c16)


__all__ = ["YoloFace"]
