"""Seed 001 networks: the three-stage super-resolution model and the palm liveness CNN.

SR (spec §2.2): first feature extraction (conv + bias + ReLU) → feature mapping to a *higher*
channel dimension (conv + bias + ReLU) → image reconstruction (conv + bias, linear).  Two variants:

* :class:`PalmSRCNN` (default): bicubic pre-upsampling inside the model, then the three stages at
  the output size with 'same' padding (classic SRCNN), plus a global residual: the reconstruction
  stage predicts the detail bicubic misses, which trains far faster on a CPU budget.
* :class:`PalmESPCN`: the same three stages run at the low resolution and the reconstruction stage
  emits ``scale²`` channels that a pixel shuffle rearranges (sub-pixel variant, ~scale² cheaper).

Liveness (spec §2.3–2.4): 4 × [conv3×3 → BN → ReLU → max-pool 2], global average pooling, a
linear head to two logits (0 = fake, 1 = live), softmax for the probability the SDK thresholds.
The seed's second loss is a 0/1 loss; :func:`zero_one_surrogate` is its differentiable stand-in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PalmSRCNN(nn.Module):
    """Bicubic ×``scale``, conv f1×f1 (1→n1) + ReLU, f2×f2 (n1→n2, n2 > n1) + ReLU, f3×f3 (n2→1).

    Input ``(N, C, h, w)`` normalised attenuation; output ``(N, C, h·scale, w·scale)``.
    """

    def __init__(
        self,
        scale: int = 2,
        channels: int = 1,
        n1: int = 24,
        n2: int = 48,
        f1: int = 7,
        f2: int = 1,
        f3: int = 5,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.scale, self.residual = scale, residual
        self.extract = nn.Conv2d(channels, n1, f1, padding=f1 // 2)
        self.mapping = nn.Conv2d(n1, n2, f2, padding=f2 // 2)
        self.reconstruct = nn.Conv2d(n2, channels, f3, padding=f3 // 2)
        nn.init.normal_(self.reconstruct.weight, std=1e-3)  # start from "bicubic" when residual
        nn.init.zeros_(self.reconstruct.bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        y = self.reconstruct(F.relu(self.mapping(F.relu(self.extract(up)))))
        return up + y if self.residual else y


class PalmESPCN(nn.Module):
    """Sub-pixel variant: the three stages at low resolution, then a pixel shuffle by ``scale``."""

    def __init__(
        self,
        scale: int = 2,
        channels: int = 1,
        n1: int = 32,
        n2: int = 64,
        f1: int = 5,
        f2: int = 3,
        f3: int = 3,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.extract = nn.Conv2d(channels, n1, f1, padding=f1 // 2)
        self.mapping = nn.Conv2d(n1, n2, f2, padding=f2 // 2)
        self.reconstruct = nn.Conv2d(n2, channels * scale * scale, f3, padding=f3 // 2)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        y = self.reconstruct(F.relu(self.mapping(F.relu(self.extract(lr)))))
        return F.pixel_shuffle(y, self.scale)


SR_VARIANTS = {"srcnn": PalmSRCNN, "espcn": PalmESPCN}


class PalmLivenessNet(nn.Module):
    """Conv + pooling feature extractor (second feature extraction network) and a softmax classifier.

    ``forward`` returns logits ``(N, 2)``; :class:`WithSoftmax` wraps it for export so the bundle's
    output is the probability pair ``[p_fake, p_live]``.  Global pooling makes it size-agnostic, so
    the same net runs on raw low-resolution or super-resolved images (seed claim 7).
    """

    def __init__(self, channels: int = 1, widths: tuple[int, ...] = (8, 16, 32, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = channels
        for w in widths:
            layers += [
                nn.Conv2d(cin, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 2)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The sample palm feature (global-average-pooled)."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


class WithSoftmax(nn.Module):
    """Export wrapper: logits → class probabilities ``[p_fake, p_live]``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)


def zero_one_surrogate(
    logits: torch.Tensor,
    labels: torch.Tensor,
    kind: str = "logistic",
    first_value: float = 0.0,
    second_value: float = 1.0,
    temperature: float = 0.5,
    class_cost: tuple[float, float] = (1.0, 1.0),
) -> torch.Tensor:
    """Differentiable stand-in for the seed's second loss (``first_value`` if right, else ``second_value``).

    With the margin ``m = z_label − z_other``, the literal loss is ``first + (second − first)·[m < 0]``.

    * ``logistic`` (default): ``(second − first)·log2(1 + e^(−m)) + first`` — the tightest convex upper
      bound of the step that equals it at ``m = 0``; identical to two-class cross-entropy up to the
      factor 1/ln 2, so it trains as well as CE and never under-states the 0/1 loss.
    * ``sigmoid``: ``(second − first)·σ(−m / temperature) + first`` — tends to the step as the
      temperature falls; bounded, so mislabelled field samples cannot dominate a fine-tune.

    ``class_cost`` weights errors on fakes (index 0: an accepted attack, APCER) and on live palms
    (index 1: a rejected user, BPCER).  Returns the mean over the batch.
    """
    if logits.ndim != 2 or logits.shape[1] != 2:
        raise ValueError(f"logits must be (N, 2), got {tuple(logits.shape)}")
    labels = labels.long()
    z = logits.gather(1, labels[:, None])[:, 0] - logits.gather(1, (1 - labels)[:, None])[:, 0]
    if kind == "logistic":
        step = F.softplus(-z) / torch.log(torch.tensor(2.0))
    elif kind == "sigmoid":
        step = torch.sigmoid(-z / temperature)
    else:
        raise ValueError(f"unknown surrogate {kind!r}; valid: logistic, sigmoid")
    cost = torch.tensor(class_cost, dtype=logits.dtype)[labels]
    return (first_value + (second_value - first_value) * step * cost).mean()


def zero_one_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The seed's literal second loss: mean of 1 where the argmax disagrees with the label, else 0."""
    return (logits.argmax(1) != labels.long()).float().mean()
