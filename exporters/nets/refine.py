"""Refinement network of seed 000 (spec §2.3, §6 #24–#25): 3D → UV → 3D, then a U-Net renderer.

Inputs per pixel: the super-resolved RGB, the canonical 3D coordinate map of the face
(:func:`biogate.models.refine.coordinate_map`, a generic face mesh posed from the landmarks —
the offline stand-in for 3DDFA_V2) and its coverage mask.

* ``to_uv`` (NeuTex's texture-mapping network): an MLP (1x1 convs) XYZ → UV in [0, 1]².
* ``to_xyz`` (NeuTex's inverse mapping): UV → XYZ; the cycle loss ‖to_xyz(to_uv(x)) − x‖ makes the
  UV space a real parameterisation of the surface (training only; not in the exported graph).
* ``texture``: an MLP UV → texture features, NeuTex's texture network ``T(u, v)``, learned over all
  training faces (a shared, face-aligned prior: where eyes, brows and mouth are).
* ``renderer``: a two-level U-Net ("Unet2") rendering [RGB, XYZ, UV, texture features, mask] to a
  residual that is added to the input inside the face mask (outside it the input passes unchanged).

NeuTex itself is a multi-view NeRF method whose weights are not available offline; this keeps its
3D→2D→3D cycle but works per image from the mesh-derived coordinates (see ``docs/sr.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class RefineConfig:
    mlp_width: int = 32
    texture_features: int = 8
    unet_width: int = 16  # channels at full resolution; doubled at each of the two levels

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mlp(cin: int, width: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, width, 1), nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(), nn.Conv2d(width, cout, 1)
    )


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU()
    )


class UNet2(nn.Module):
    """Two-level U-Net renderer: full → 1/2 → 1/4 resolution and back, skip concatenations."""

    def __init__(self, cin: int, width: int, cout: int = 3) -> None:
        super().__init__()
        self.enc0, self.enc1 = _block(cin, width), _block(width, 2 * width)
        self.mid = _block(2 * width, 4 * width)
        self.up1 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
        self.dec1 = _block(4 * width, 2 * width)
        self.up0 = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.dec0 = _block(2 * width, width)
        self.out = nn.Conv2d(width, cout, 1)
        nn.init.zeros_(self.out.weight)  # untrained renderer = identity refinement
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x)
        e1 = self.enc1(F.max_pool2d(e0, 2))
        m = self.mid(F.max_pool2d(e1, 2))
        d1 = self.dec1(torch.cat([self.up1(m), e1], dim=1))
        d0 = self.dec0(torch.cat([self.up0(d1), e0], dim=1))
        return self.out(d0)


class FaceRefiner(nn.Module):
    """``forward(image, coords, mask) -> refined``; ``forward_train`` also returns UV and the cycle XYZ."""

    def __init__(self, cfg: RefineConfig = RefineConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.to_uv = _mlp(3, cfg.mlp_width, 2)
        self.to_xyz = _mlp(2, cfg.mlp_width, 3)
        self.texture = _mlp(2, cfg.mlp_width, cfg.texture_features)
        self.renderer = UNet2(3 + 3 + 2 + cfg.texture_features + 1, cfg.unet_width)

    def _render(
        self, image: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        uv = torch.sigmoid(self.to_uv(coords))
        tex = self.texture(uv) * mask
        residual = self.renderer(torch.cat([image, coords, uv * mask, tex, mask], dim=1))
        return image + residual * mask, uv

    def forward(self, image: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._render(image, coords, mask)[0]

    def forward_train(
        self, image: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(refined, uv, cycle_xyz)``: the cycle term is ``to_xyz(to_uv(coords))``."""
        refined, uv = self._render(image, coords, mask)
        return refined, uv, self.to_xyz(uv)


def refine_losses(
    net: FaceRefiner,
    image: torch.Tensor,
    coords: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    cycle_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """L1 to the HR target (whole image) + NeuTex's cycle loss on covered pixels."""
    refined, _, back = net.forward_train(image, coords, mask)
    cycle = ((back - coords).abs() * mask).sum() / mask.sum().clamp_min(1.0) / 3.0
    render = F.l1_loss(refined, target)
    return {"total": render + cycle_weight * cycle, "render": render, "cycle": cycle}
