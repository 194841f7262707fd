"""Seed 002 networks: RGB identity pre-training, first-layer pruning to 3×3×1, the two primary-
feature extractors, and the face temperature detection model (identity + temperature heads).

Shapes (crop side ``S`` = 64)::

    RGB (N,3,S,S) ─ RGB extractor: conv 3×3×3 (pre-trained) ─ BN ─ ReLU ─ conv 3×3/2 ─┐
                                                                                     ├─ (N,16,S/2,S/2) ─ trunk
    IR  (N,1,S,S) ─ IR extractor:  conv 3×3×1 (pruned copy) ─ BN ─ ReLU ─ conv 3×3/2 ─┘
    trunk: 4 residual stages, stride 2 each → (N,128,S/32,S/32)
    identity head: GAP → FC → BN → L2-normalised embedding (64-d); cosine classifier for training
    temperature head: [GAP(trunk), GMP(trunk), GMP(primary features)] → MLP → °C

The two extractors give the same feature dimension (spec §3.2: "guarantee that RGB and IR primary
features have the same dimension"; the modalities are never stacked).
"""

from __future__ import annotations

import copy
import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

STEM_CHANNELS = 16
TRUNK_CHANNELS = (32, 64, 96, 128)
EMBED_DIM = 64
#: The temperature head predicts an offset from this (°C), so its last layer starts near zero.
TEMP_BASE_C = 36.8


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ResidualStage(nn.Module):
    """conv-s2 → conv with a strided 1×1 shortcut: halves the resolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.a = _conv_bn(cin, cout, 2)
        self.b = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, 2, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.b(self.a(x)) + self.short(x))


class Trunk(nn.Module):
    """The shared feature trunk after the primary features."""

    def __init__(self) -> None:
        super().__init__()
        chans = (STEM_CHANNELS, *TRUNK_CHANNELS)
        self.stages = nn.Sequential(*[ResidualStage(a, b) for a, b in itertools.pairwise(chans)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)


class EmbeddingHead(nn.Module):
    """GAP → FC → BN → L2 normalisation."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(TRUNK_CHANNELS[-1], EMBED_DIM, bias=False)
        self.bn = nn.BatchNorm1d(EMBED_DIM)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.bn(self.fc(feats.mean(dim=(2, 3)))), dim=1)


class CosineClassifier(nn.Module):
    """Large-margin cosine logits (CosFace): s·(cos θ_j − m·[j = y]) for training the embedding."""

    def __init__(
        self, n_classes: int, scale: float = 16.0, margin: float = 0.2, dim: int = EMBED_DIM
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_classes, dim) / math.sqrt(dim))
        self.scale, self.margin = scale, margin

    def forward(self, emb: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        cos = emb @ F.normalize(self.weight, dim=1).t()
        if labels is not None:
            cos = cos - self.margin * F.one_hot(labels, cos.shape[1]).to(cos.dtype)
        return self.scale * cos


class PretrainNet(nn.Module):
    """The "pre-training model": 3×3×3 first layer, trained on RGB faces to predict identity."""

    def __init__(self, n_identities: int) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, STEM_CHANNELS, 3, 1, 1, bias=False)
        self.first_bn = nn.BatchNorm2d(STEM_CHANNELS)
        self.trunk = Trunk()
        self.embed = EmbeddingHead()
        self.classifier = CosineClassifier(n_identities)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        stem = F.relu(self.first_bn(self.first(rgb)))[:, :, ::2, ::2]  # what the Dirac extra conv does
        return self.embed(self.trunk(stem))


# ---------------------------------------------------------------------------------------- pruning
def accumulate_first_layer_gradients(model: PretrainNet, batches, loss_fn) -> torch.Tensor:
    """g[o, c] = Σ_batches Σ_kh,kw |∂L/∂W[o, c, kh, kw]| of the 3×3×3 first layer (spec §3.3).

    ``batches`` yields ``(x, y)``; ``loss_fn(model, x3, y)`` returns the scalar loss for a
    3-channel input. A 3-channel ``x`` is used as is. A **single-channel** (thermal) ``x`` is fed
    to one input channel at a time, the other two zero, and slice ``c`` collects its gradient
    from pass ``c`` only: replicating the thermal image to R, G and B instead would make the three
    slices' gradients identical (∂L/∂W[o, c] = Σ δ_o ⊗ x_c with x_R = x_G = x_B), and the
    criterion could not choose.
    """
    acc = torch.zeros(model.first.weight.shape[:2])
    for x, y in batches:
        if x.shape[1] == 3:
            passes = [(x, slice(None))]
        else:
            passes = []
            for c in range(3):
                x3 = torch.zeros(x.shape[0], 3, *x.shape[2:], dtype=x.dtype)
                x3[:, c] = x[:, 0]
                passes.append((x3, slice(c, c + 1)))
        for x3, cols in passes:
            model.zero_grad(set_to_none=True)
            loss_fn(model, x3, y).backward()
            acc[:, cols] += model.first.weight.grad.detach().abs().sum(dim=(2, 3))[:, cols]
    model.zero_grad(set_to_none=True)
    return acc


def prune_first_layer(conv: nn.Conv2d, grad_magnitude: torch.Tensor) -> tuple[nn.Conv2d, torch.Tensor]:
    """3×3×3 → 3×3×1: per output filter keep the input slice with the largest accumulated |grad|.

    Deletes the 2/3 of the kernel slices with the smaller gradients. Returns the new single-
    channel conv (weights copied, not re-initialised) and the kept channel index per filter.
    """
    if conv.in_channels != 3 or tuple(grad_magnitude.shape) != (conv.out_channels, 3):
        raise ValueError(f"need a 3-input conv and a ({conv.out_channels}, 3) gradient table")
    keep = grad_magnitude.argmax(dim=1)
    pruned = nn.Conv2d(
        1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None
    )
    with torch.no_grad():
        pruned.weight.copy_(conv.weight[torch.arange(conv.out_channels), keep].unsqueeze(1))
        if conv.bias is not None:
            pruned.bias.copy_(conv.bias)
    return pruned, keep


# ------------------------------------------------------------------------------ the final model
class PrimaryExtractor(nn.Module):
    """A small per-modality CNN: the (pre-trained or pruned) first conv, BN, ReLU, one more conv.

    The extra conv (stride 2) starts as a Dirac kernel, so on day one the extractor reproduces the
    pre-trained first layer (subsampled, as the pre-training stem is) and training only has to
    learn what the modality adds.
    """

    def __init__(self, first: nn.Conv2d, first_bn: nn.BatchNorm2d) -> None:
        super().__init__()
        self.first, self.first_bn = first, first_bn
        self.extra = nn.Conv2d(STEM_CHANNELS, STEM_CHANNELS, 3, 2, 1, bias=False)
        nn.init.dirac_(self.extra.weight)
        self.extra_bn = nn.BatchNorm2d(STEM_CHANNELS)
        nn.init.ones_(self.extra_bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.extra_bn(self.extra(F.relu(self.first_bn(self.first(x))))))


class TemperatureHead(nn.Module):
    """°C from pooled trunk features and the per-channel maximum of the primary features.

    The global max of the full-resolution primary features lets the head see the warmest spot
    (the inner canthus) without the trunk's downsampling averaging it away.
    """

    def __init__(self) -> None:
        super().__init__()
        width = 2 * TRUNK_CHANNELS[-1] + STEM_CHANNELS
        self.mlp = nn.Sequential(nn.Linear(width, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, primary: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([feats.mean(dim=(2, 3)), feats.amax(dim=(2, 3)), primary.amax(dim=(2, 3))], dim=1)
        return TEMP_BASE_C + self.mlp(pooled).squeeze(1)


class ThermalFaceNet(nn.Module):
    """The face temperature detection model: identity and temperature from a thermal crop."""

    def __init__(self, n_identities: int) -> None:
        super().__init__()
        self.rgb_primary = PrimaryExtractor(
            nn.Conv2d(3, STEM_CHANNELS, 3, 1, 1, bias=False), nn.BatchNorm2d(STEM_CHANNELS)
        )
        self.ir_primary = PrimaryExtractor(
            nn.Conv2d(1, STEM_CHANNELS, 3, 1, 1, bias=False), nn.BatchNorm2d(STEM_CHANNELS)
        )
        self.trunk = Trunk()
        self.embed = EmbeddingHead()
        self.classifier = CosineClassifier(n_identities)
        self.temperature = TemperatureHead()

    @classmethod
    def from_pretrained(cls, pre: PretrainNet, pruned_first: nn.Conv2d) -> ThermalFaceNet:
        """Both extractors and the trunk/heads start from the pre-trained model (spec step 502)."""
        net = cls(pre.classifier.weight.shape[0])
        net.rgb_primary.first = copy.deepcopy(pre.first)
        net.rgb_primary.first_bn = copy.deepcopy(pre.first_bn)
        net.ir_primary.first = pruned_first
        net.ir_primary.first_bn = copy.deepcopy(pre.first_bn)
        net.trunk.load_state_dict(pre.trunk.state_dict())
        net.embed.load_state_dict(pre.embed.state_dict())
        net.classifier.load_state_dict(pre.classifier.state_dict())
        return net

    def forward_ir(self, ir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        primary = self.ir_primary(ir)
        feats = self.trunk(primary)
        return self.embed(feats), self.temperature(primary, feats)

    def forward_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.embed(self.trunk(self.rgb_primary(rgb)))

    def forward(self, ir: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_ir(ir)


class ThermalExport(nn.Module):
    """What ships in the bundle: single-channel thermal crop → (embedding, temperature °C)."""

    def __init__(self, net: ThermalFaceNet) -> None:
        super().__init__()
        self.ir_primary, self.trunk, self.embed, self.temperature = (
            net.ir_primary,
            net.trunk,
            net.embed,
            net.temperature,
        )

    def forward(self, thermal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        primary = self.ir_primary(thermal)
        feats = self.trunk(primary)
        return self.embed(feats), self.temperature(primary, feats).unsqueeze(1)


def rgb_weight_schedule(start: float = 0.5, step: float = 0.1, end: float = 0.0) -> list[float]:
    """The RGB input weight per training round: start, start − step, …, end (spec §3.4).

    Computed in integer steps so 0.5 − 5 × 0.1 is exactly 0.0, not 5.55e-17.
    """
    if not (0.0 <= end <= start <= 1.0) or step <= 0:
        raise ValueError(f"need 0 <= end <= start <= 1 and step > 0, got start={start} step={step} end={end}")
    n = math.floor((start - end) / step + 1e-9)
    weights = [round(start - k * step, 10) for k in range(n + 1)]
    if weights[-1] > end + 1e-9:
        weights.append(end)
    return weights
