"""RDN-style baseline (Zhang et al., CVPR 2018), the seed's prior art, at edge size.

SFENet (two 3x3 convs) → D residual dense blocks (dense 3x3 convs + 1x1 fusion + local residual)
→ global feature fusion (concat, 1x1, 3x3) + global residual → UPNet (3x3 conv to ``3r²`` + pixel
shuffle).  Same training recipe, data and bicubic image skip as the dual-channel edge model, so
the comparison isolates the architecture (no dictionary channel).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from biogate.exporters.nets.dual_sr import DenseModule, _conv


@dataclass(frozen=True)
class RDNConfig:
    scale: int = 2
    width: int = 16
    blocks: int = 3
    depth: int = 3
    growth: int = 8
    image_skip: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: Sized to match the dual-channel EDGE model's compute (see docs/sr.md).
RDN_EDGE = RDNConfig()


class RDN(nn.Module):
    """``(N, 3, H, W)`` RGB in [0, 1] → ``(N, 3, rH, rW)``; ``forward_train`` has no auxiliary heads."""

    def __init__(self, cfg: RDNConfig = RDN_EDGE) -> None:
        super().__init__()
        self.cfg = cfg
        w, r = cfg.width, cfg.scale
        self.sfe1, self.sfe2 = _conv(3, w, 3), _conv(w, w, 3)
        self.blocks = nn.ModuleList(
            DenseModule(w, cfg.depth, cfg.growth, local_residual=True) for _ in range(cfg.blocks)
        )
        self.gff1, self.gff2 = _conv(cfg.blocks * w, w, 1), _conv(w, w, 3)
        self.up = _conv(w, 3 * r * r, 3)
        self.shuffle = nn.PixelShuffle(r)
        if cfg.image_skip:  # untrained net == bicubic (as the dual-channel edge net)
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f_1 = self.sfe1(x)
        h = self.sfe2(f_1)
        outs = []
        for block in self.blocks:
            h = block(h)
            outs.append(h)
        g = self.gff2(self.gff1(torch.cat(outs, dim=1))) + f_1
        out = self.shuffle(self.up(g))
        if self.cfg.image_skip:
            out = out + F.interpolate(x, scale_factor=self.cfg.scale, mode="bicubic", align_corners=False)
        return out

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.forward(x), []
