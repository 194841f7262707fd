"""Seed 004: silent face liveness trained on genuine faces only (face/background latent separation).

The network follows ``shared/spec/004-positive-only-face-liveness.md`` §2:

* :class:`SeparatingEncoder` — 9 conv (3×3 s1) + 9 ReLU + 2 pooling → 256-ch ``F``; "Half" splits
  ``F`` in two; a 1×1 conv gives the face latent ``z_f`` and a 3×3 conv the background latent ``z_b``.
  Used twice with separate weights: ``E1`` on the input, ``E2`` on the reconstruction.
* :class:`FeatureDecoder` — 9 conv + 9 ReLU + 2 ×2 upsampling → deep features ``h_f`` / ``h_b``.
* :class:`ReconstructionHead` — conv, ReLU, conv, Tanh: ``h_f`` → clear face ``I_c``.
* :class:`RecombinationHead` — concat(``h_f``, ``h_b``), conv, ReLU, conv, Tanh → ``I_real``.
* :class:`Discriminator` — 6 × (conv 3×3 + ReLU) → global average pool → FC(2) (softmax outside).
* :class:`LivenessDelta` — the inference sub-graph only: image → Δ = mean |z_b − z'_b| per image.

Widths and input size come from :class:`LivenessConfig`; ``LivenessConfig.paper()`` is the spec's
suggested 128×128 / 64-128-256 layout, ``LivenessConfig.edge()`` the one that meets the CPU latency
target. Images are RGB in [-1, 1] (the Tanh range), NCHW.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

#: Forms of Δ (see :func:`background_delta`).
DELTA_NORMS = ("none", "relative")
#: Keeps the relative Δ finite for an all-zero background latent.
DELTA_EPS = 1e-6


@dataclass(frozen=True)
class LivenessConfig:
    """Sizes of every sub-network (spec §6 rows 1, 4–10).

    Attributes:
        input_size: square input side in pixels; must be divisible by ``2**pools``.
        width: channels of the first encoder stage; the stages are ``w, 2w, 4w`` so ``F`` has
            ``4·width`` channels (256 for the paper's width 64).
        latent_channels: channels of each latent ``z_f`` / ``z_b`` (64 in the paper).
        deep_channels: channels of the decoders' deep features ``h_f`` / ``h_b`` (spec: 32 or 64).
        head_channels: hidden width of the reconstruction and recombination heads.
        disc_widths: the six discriminator conv widths.
        disc_strides: the six discriminator conv strides (the paper says 1; see docs/liveness.md).
        pools: number of pooling / upsampling layers (the text says 2, the formula indices 3).
        delta_norm: ``"none"`` — the seed's Δ = mean |z_b − z'_b|; ``"relative"`` — the same divided
            by mean |z_b| (scale-invariant: a low-contrast input cannot shrink Δ by shrinking z_b).
    """

    input_size: int = 128
    width: int = 64
    latent_channels: int = 64
    deep_channels: int = 32
    head_channels: int = 32
    disc_widths: tuple[int, ...] = (64, 64, 128, 128, 256, 256)
    disc_strides: tuple[int, ...] = (1, 2, 1, 2, 1, 2)
    pools: int = 2
    delta_norm: str = "none"

    def __post_init__(self) -> None:
        if self.delta_norm not in DELTA_NORMS:
            raise ValueError(
                f"LivenessConfig.delta_norm must be one of {DELTA_NORMS}, got {self.delta_norm!r}"
            )
        if self.pools not in (1, 2, 3):
            raise ValueError(f"LivenessConfig.pools must be 1, 2 or 3, got {self.pools}")
        if self.input_size % (2**self.pools):
            raise ValueError(
                f"LivenessConfig.input_size {self.input_size} is not divisible by {2**self.pools}"
            )
        if len(self.disc_widths) != 6 or len(self.disc_strides) != 6:
            raise ValueError("LivenessConfig.disc_widths and disc_strides need exactly six entries")
        if (4 * self.width) % 2:
            raise ValueError("LivenessConfig.width must make 4·width even for the Half split")

    @property
    def feature_channels(self) -> int:
        """Channels of the overall latent ``F`` (the encoder output before Half)."""
        return 4 * self.width

    @property
    def latent_size(self) -> int:
        """Spatial side of ``z_f`` / ``z_b``."""
        return self.input_size // (2**self.pools)

    @classmethod
    def paper(cls) -> LivenessConfig:
        """The spec's suggested layout: 128×128, widths 64/128/256, 64-ch latents, 32-ch deep features."""
        return cls()

    @classmethod
    def edge(cls) -> LivenessConfig:
        """A quarter-width, 64×64 layout for one ARM/x86 core (same layer counts as the paper)."""
        return cls(
            input_size=64,
            width=16,
            latent_channels=16,
            deep_channels=16,
            head_channels=16,
            disc_widths=(16, 16, 32, 32, 64, 64),
        )

    @classmethod
    def tiny(cls) -> LivenessConfig:
        """Half the edge widths: what a shared 2-core CPU can train in ~15 minutes (the shipped weights)."""
        return cls(
            input_size=64,
            width=8,
            latent_channels=8,
            deep_channels=8,
            head_channels=8,
            disc_widths=(8, 8, 16, 16, 32, 32),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["disc_widths"] = list(self.disc_widths)
        data["disc_strides"] = list(self.disc_strides)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LivenessConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("disc_widths", "disc_strides"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def _stage_plan(n_convs: int, pools: int) -> list[int]:
    """Indices (0-based, after which conv) where a pooling/upsampling layer goes, evenly spread."""
    per = n_convs // (pools + 1)
    return [per * (i + 1) - 1 for i in range(pools)]


class Latents(NamedTuple):
    """Face and background latents of one encoder pass."""

    face: torch.Tensor
    background: torch.Tensor


class SeparatingEncoder(nn.Module):
    """9 × (conv 3×3 s1 + ReLU) with ``pools`` max-pools, then the Half separation module."""

    def __init__(self, cfg: LivenessConfig) -> None:
        super().__init__()
        w = cfg.width
        stage_widths = [w, 2 * w, 4 * w] if cfg.pools == 2 else [w * 2**i for i in range(cfg.pools + 1)]
        pool_after = _stage_plan(9, cfg.pools)
        layers: list[nn.Module] = []
        c_in, stage = 3, 0
        for i in range(9):
            c_out = stage_widths[stage]
            if i == 8:
                c_out = cfg.feature_channels
            layers += [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ReLU(inplace=True)]
            c_in = c_out
            if i in pool_after:
                layers.append(nn.MaxPool2d(2, 2))
                stage += 1
        self.features = nn.Sequential(*layers)
        half = cfg.feature_channels // 2
        self.to_face = nn.Conv2d(half, cfg.latent_channels, 1)  # C_d1, kernel 1
        self.to_background = nn.Conv2d(half, cfg.latent_channels, 3, 1, 1)  # C_d2, kernel 3 stride 1

    def forward(self, image: torch.Tensor) -> Latents:
        feat = self.features(image)
        first, second = torch.chunk(feat, 2, dim=1)  # "Half": 256 → 128 + 128
        return Latents(self.to_face(first), self.to_background(second))


class FeatureDecoder(nn.Module):
    """9 × (conv 3×3 s1 + ReLU) with ``pools`` nearest ×2 upsamplings: latent → deep feature."""

    def __init__(self, cfg: LivenessConfig) -> None:
        super().__init__()
        w = cfg.width
        stage_widths = (
            [4 * w, 2 * w, w] if cfg.pools == 2 else [w * 2**i for i in reversed(range(cfg.pools + 1))]
        )
        up_after = _stage_plan(9, cfg.pools)
        layers: list[nn.Module] = []
        c_in, stage = cfg.latent_channels, 0
        for i in range(9):
            c_out = cfg.deep_channels if i == 8 else stage_widths[stage]
            layers += [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.ReLU(inplace=True)]
            c_in = c_out
            if i in up_after:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                stage += 1
        self.layers = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.layers(latent)


class ReconstructionHead(nn.Module):
    """Feature reconstruction module: conv, ReLU, conv, Tanh on ``h_f`` → clear face ``I_c``."""

    def __init__(self, cfg: LivenessConfig) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cfg.deep_channels, cfg.head_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(cfg.head_channels, 3, 3, 1, 1)

    def forward(self, deep_face: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv2(F.relu(self.conv1(deep_face))))


class RecombinationHead(nn.Module):
    """Feature recombination module: concat(``h_f``, ``h_b``), conv, ReLU, conv, Tanh → ``I_real``."""

    def __init__(self, cfg: LivenessConfig) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2 * cfg.deep_channels, cfg.head_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(cfg.head_channels, 3, 3, 1, 1)

    def forward(self, deep_face: torch.Tensor, deep_background: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([deep_face, deep_background], dim=1)  # 特征级联: channel concatenation
        return torch.tanh(self.conv2(F.relu(self.conv1(joined))))


class GeneratorOutput(NamedTuple):
    """Everything one generator pass produces (what the four losses need)."""

    latents: Latents  # z_f, z_b from E1(I)
    clear_face: torch.Tensor  # I_c
    reconstruction: torch.Tensor  # I_real
    re_latents: Latents  # z'_f, z'_b from E2(I_real)


class LivenessGenerator(nn.Module):
    """G: E1 + separation → two decoders → I_c and I_real → E2 + separation (spec §2.1–2.3)."""

    def __init__(self, cfg: LivenessConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = SeparatingEncoder(cfg)
        self.face_decoder = FeatureDecoder(cfg)
        self.background_decoder = FeatureDecoder(cfg)
        self.clear_face_head = ReconstructionHead(cfg)
        self.recombination = RecombinationHead(cfg)
        self.re_encoder = SeparatingEncoder(cfg)

    def reconstruct(self, image: torch.Tensor) -> tuple[Latents, torch.Tensor, torch.Tensor]:
        """E1 and the decoders: returns ``(latents, h_f, I_real)`` without the I_c branch."""
        latents = self.encoder(image)
        deep_face = self.face_decoder(latents.face)
        deep_background = self.background_decoder(latents.background)
        return latents, deep_face, self.recombination(deep_face, deep_background)

    def forward(self, image: torch.Tensor) -> GeneratorOutput:
        latents, deep_face, reconstruction = self.reconstruct(image)
        clear_face = self.clear_face_head(deep_face)
        return GeneratorOutput(latents, clear_face, reconstruction, self.re_encoder(reconstruction))


def background_delta(latents: Latents, re_latents: Latents, norm: str = "none") -> torch.Tensor:
    """Δ per image: mean absolute difference of ``z_b`` and ``z'_b`` over its K_BG elements.

    ``norm="relative"`` divides it by mean |z_b| of the same image, so Δ no longer scales with the
    latent magnitude (which follows image contrast and detail; docs/liveness.md, round 2).
    """
    delta = (latents.background - re_latents.background).abs().flatten(1).mean(dim=1)
    if norm == "relative":
        delta = delta / (latents.background.abs().flatten(1).mean(dim=1) + DELTA_EPS)
    return delta


class LivenessDelta(nn.Module):
    """The exported inference sub-graph: image → Δ (``N``). Skips ``I_c``, D and f (spec §2.4)."""

    def __init__(self, generator: LivenessGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        latents, _, reconstruction = self.generator.reconstruct(image)
        re_latents = self.generator.re_encoder(reconstruction)
        return background_delta(latents, re_latents, self.generator.cfg.delta_norm)


class Discriminator(nn.Module):
    """6 × (conv 3×3 + ReLU), global average pool, FC → 2 logits (index 1 = "real input")."""

    def __init__(self, cfg: LivenessConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c_out, stride in zip(cfg.disc_widths, cfg.disc_strides, strict=True):
            layers += [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.ReLU(inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, 2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(image).mean(dim=(2, 3)))


class ExemplarFaceNet(nn.Module):
    """Stand-in identity extractor ``f``: a small CNN trained by exemplar discrimination.

    The seed's ``f`` is VGGFace without its last FC. No identity-labelled face set ships offline,
    so this stand-in learns, from the genuine training faces alone, an embedding in which two
    augmented views of one face are close and different faces are apart (Dosovitskiy et al.,
    "Discriminative unsupervised feature learning with exemplar CNNs", NIPS 2014). It is frozen
    while the liveness network trains, like VGGFace in the seed.
    """

    def __init__(self, embed_dim: int = 64, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(4 * w, 4 * w, 3, 1, 1),
            nn.ReLU(inplace=True),
        )
        self.embed = nn.Linear(4 * w, embed_dim)
        self.embed_dim = embed_dim

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """L2-normalised ``embed_dim`` features of RGB images in [-1, 1]."""
        return F.normalize(self.embed(self.features(image).mean(dim=(2, 3))), dim=1)


class DlibIdentity(nn.Module):
    """The project's face embedder as the frozen ``f``: dlib's 128-d face ResNet (M = 128).

    Like VGGFace without its last FC in the seed, it is a network trained for face recognition
    on a large face set (dlib: about 3 million faces, LFW 99.38 % per its author), used up to its
    embedding. It takes the liveness images in [-1, 1] at any size, resizes them (bilinear,
    differentiable, so ``L_id`` reaches the generator) to its 150×150 chip and 0..255 pixels.
    """

    def __init__(self, net: nn.Module, size: int = 150) -> None:
        super().__init__()
        self.net = net
        self.size = size
        self.embed_dim = 128

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[-1] != self.size or image.shape[-2] != self.size:
            image = F.interpolate(image, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net((image + 1.0) * 127.5)


def freeze(module: nn.Module) -> nn.Module:
    """Put ``module`` in eval mode with no trainable parameters (the frozen ``f`` of the seed)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module
