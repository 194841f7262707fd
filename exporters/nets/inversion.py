"""Seed 003 §2 S102: the black-box face inverse model (embedding → 3×128×128 face).

A DCGAN-style generator trained as pixel regression (no discriminator, as the seed describes):

    input e (d = 128 for dlib, 512 for ArcFace) [+ N(0, σ²) noise while training, σ² = 0.001]
    → Linear + BatchNorm1d + ReLU → 8192 → reshape 512×4×4
    → 4 × [ConvTranspose2d(k4, s2, p1) + BN + ReLU]: 256×8×8, 128×16×16, 64×32×32, 32×64×64
      with ``residual_per_gap`` shape-preserving residual blocks between consecutive blocks
    → ConvTranspose2d(k4, s2, p1) + sigmoid → 3×128×128 in [0, 1]

``width`` scales every channel count (and the 8192-d projection) — a documented departure used
for the weights committed here, which are trained on a 2-core CPU (docs/inversion.md); ``width=1``
is the seed's network.  ``residual_per_gap`` is 1 in the seed's adopted configuration and 2 in its
ablation group 4.  The residual block is the spec's shape-compatible reading:
``y = ReLU(x + BN(Conv3×3(ReLU(BN(Conv3×3(x))))))``.

The white-box attack (S103) uses :meth:`InverseNet.decode` as its generator: everything after the
input noise, fed with a free latent instead of an embedding.
"""

from __future__ import annotations

import torch
from torch import nn

NOISE_VARIANCE = 0.001  # seed 003, claim 5 (mean 0, variance 0.001 in every input dimension)
BASE_CHANNELS = (512, 256, 128, 64, 32)  # reshape channels, then the four transposed-conv blocks
OUTPUT_SIZE = 128


class GaussianNoise(nn.Module):
    """Adds N(0, variance) to every input dimension in training mode only (identity in eval)."""

    def __init__(self, variance: float = NOISE_VARIANCE) -> None:
        super().__init__()
        if variance < 0:
            raise ValueError(f"noise variance must be >= 0, got {variance}")
        self.variance = float(variance)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.variance == 0:
            return x
        return x + torch.randn_like(x) * self.variance**0.5


class ResidualBlock(nn.Module):
    """Shape-preserving ``ReLU(x + BN(conv3(ReLU(BN(conv3(x))))))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def _up_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def channels_for(width: float) -> tuple[int, ...]:
    """Channel counts of the five feature stages for a width multiplier (at least 4 each)."""
    if not 0 < width <= 4:
        raise ValueError(f"width multiplier must be in (0, 4], got {width}")
    return tuple(max(4, round(c * width)) for c in BASE_CHANNELS)


class InverseNet(nn.Module):
    """The S102 inverse model.

    Args:
        embed_dim: encoder output dimension (128 for the dlib embedder, 512 for ArcFace).
        width: channel multiplier (1 = the seed's 8192-d projection and 512…32 channels).
        residual_per_gap: residual blocks between each pair of consecutive transposed-conv
            blocks (0, 1 or 2; the seed adopts 1).
        noise_variance: variance of the training-time Gaussian input noise (seed: 0.001).
    """

    def __init__(
        self,
        embed_dim: int = 128,
        width: float = 1.0,
        residual_per_gap: int = 1,
        noise_variance: float = NOISE_VARIANCE,
    ) -> None:
        super().__init__()
        if residual_per_gap not in (0, 1, 2):
            raise ValueError(f"residual_per_gap must be 0, 1 or 2, got {residual_per_gap}")
        self.config = {
            "embed_dim": int(embed_dim),
            "width": float(width),
            "residual_per_gap": int(residual_per_gap),
            "noise_variance": float(noise_variance),
        }
        ch = channels_for(width)
        self.channels = ch
        self.noise = GaussianNoise(noise_variance)
        self.project = nn.Sequential(
            nn.Linear(embed_dim, ch[0] * 16, bias=False), nn.BatchNorm1d(ch[0] * 16), nn.ReLU(inplace=True)
        )
        stages: list[nn.Module] = []
        for k in range(4):
            stages.append(_up_block(ch[k], ch[k + 1]))
            if k < 3:  # the three gaps between the four blocks
                stages.extend(ResidualBlock(ch[k + 1]) for _ in range(residual_per_gap))
        self.blocks = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.ConvTranspose2d(ch[4], 3, 4, stride=2, padding=1), nn.Sigmoid())

    @property
    def latent_dim(self) -> int:
        """Dimension of the white-box latent (the inverse model's input)."""
        return self.config["embed_dim"]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Generator: (N, embed_dim) latent → (N, 3, 128, 128) in [0, 1], no input noise."""
        h = self.project(z).view(z.shape[0], self.channels[0], 4, 4)
        return self.head(self.blocks(h))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        """(N, embed_dim) embeddings → (N, 3, 128, 128) faces in [0, 1]."""
        return self.decode(self.noise(embedding))


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The seed's L1: mean absolute pixel error over 3×128×128 (and the batch)."""
    return (pred - target).abs().mean()


def pixel_loss(kind: str):
    """Loss by name: ``l1`` (adopted), ``l2`` or ``l1+l2`` (the seed's ablation groups)."""
    losses = {
        "l1": l1_loss,
        "l2": lambda p, t: ((p - t) ** 2).mean(),
        "l1+l2": lambda p, t: l1_loss(p, t) + ((p - t) ** 2).mean(),
    }
    if kind not in losses:
        raise ValueError(f"unknown loss {kind!r}; choose from {', '.join(losses)}")
    return losses[kind]


def save_inverse_net(model: InverseNet, path: str, meta: dict | None = None) -> None:
    """Write weights as float16 (halves the file; decoded back to float32 on load) with the config."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"config": model.config, "state": state, "meta": dict(meta or {})}, path)


def load_inverse_net(path: str) -> tuple[InverseNet, dict]:
    """Rebuild a saved :class:`InverseNet` in eval mode; returns ``(model, meta)``."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = InverseNet(**blob["config"])
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in blob["state"].items()})
    return model.eval(), dict(blob.get("meta", {}))


__all__ = [
    "NOISE_VARIANCE",
    "GaussianNoise",
    "InverseNet",
    "ResidualBlock",
    "channels_for",
    "l1_loss",
    "load_inverse_net",
    "pixel_loss",
    "save_inverse_net",
]
