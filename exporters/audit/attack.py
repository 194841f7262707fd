"""The two reconstruction attacks of seed 003 and the baseline, as ``templates → images`` functions.

* black box (S102): one forward pass of the trained :class:`InverseNet`;
* white box (S103): per template, optimise a latent ``z`` of a generator so that the *known*
  encoder's embedding of ``G(z)`` matches the template; only ``z`` is updated.  The generator is the
  black-box inverse model's decoder (:meth:`InverseNet.decode`), with the latent either its input
  (``latent="input"``, 128-d) or the output of its projection (``latent="projection"``, the
  4×4 feature map flattened; more freedom, further from the learned face manifold);
* baseline: the mean face of the training set, whatever the template.

Images are float32 (N, 3, 128, 128) in [0, 1]; the encoder sees them as dlib 150×150 chips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .metrics import unit


def blackbox_invert(model, templates: np.ndarray, batch: int = 64) -> np.ndarray:
    """S102-c: the inverse model's output for each template (eval mode: no input noise)."""
    import torch

    model.eval()
    x = torch.from_numpy(unit(templates))
    with torch.no_grad():
        return np.concatenate([model(x[k : k + batch]).numpy() for k in range(0, len(x), batch)])


def constant_invert(image: np.ndarray, n: int) -> np.ndarray:
    """The baseline attacker: the same image (the training set's mean face) for every template."""
    return np.repeat(np.asarray(image, np.float32)[None], n, axis=0)


@dataclass
class WhiteBoxConfig:
    """S103 settings (the seed gives none; these are ours, see docs/inversion.md)."""

    iterations: int = 100
    lr: float = 0.05
    optimizer: str = "adam"  # adam | sgd
    loss: str = "cosine"  # cosine | cosine+l2 (1 - cos + ‖e - e*‖²)
    latent: str = "input"  # input | projection
    prior: float = 0.0  # weight of ‖z‖² (latent-norm regulariser)
    batch: int = 8
    seed: int = 0


def _loss(kind: str, e, target):
    import torch

    cos = torch.sum(e * target, dim=1)
    if kind == "cosine":
        return 1.0 - cos
    if kind == "cosine+l2":
        return 1.0 - cos + torch.sum((e - target) ** 2, dim=1)
    raise ValueError(f"unknown white-box loss {kind!r}; choose cosine or cosine+l2")


def whitebox_invert(
    generator,
    encoder,
    templates: np.ndarray,
    config: WhiteBoxConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """S103: latent optimisation through ``generator`` (an :class:`InverseNet`) and ``encoder``.

    ``encoder`` is a differentiable torch module taking RGB 0..255 NCHW 150×150 chips and
    returning unit embeddings (the dlib ResNet with ``normalize=True``).  Returns the images and the
    encoder's final cosine to each template (the attacker's own view of success).
    """
    import torch
    import torch.nn.functional as F

    cfg = config or WhiteBoxConfig()
    generator.eval()
    encoder.eval()
    for p in list(generator.parameters()) + list(encoder.parameters()):
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(cfg.seed)
    targets = torch.from_numpy(unit(templates))
    images, finals = [], []
    for k in range(0, len(targets), cfg.batch):
        target = targets[k : k + cfg.batch]
        n = len(target)
        if cfg.latent == "input":  # random initialisation (seed: 随机初始化), unit-norm like an embedding
            z = torch.randn(n, generator.latent_dim, generator=gen)
            z = z / z.norm(dim=1, keepdim=True)
            decode = generator.decode
        elif cfg.latent == "projection":
            with torch.no_grad():
                z0 = torch.randn(n, generator.latent_dim, generator=gen)
                z = generator.project(z0 / z0.norm(dim=1, keepdim=True))

            def decode(h):
                return generator.head(generator.blocks(h.view(h.shape[0], generator.channels[0], 4, 4)))
        else:
            raise ValueError(f"unknown latent {cfg.latent!r}; choose input or projection")
        z = z.clone().requires_grad_(True)
        opt = (torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.SGD)([z], lr=cfg.lr)
        for _ in range(cfg.iterations):
            chips = F.interpolate(decode(z), size=(150, 150), mode="bilinear", align_corners=False) * 255.0
            e = encoder(chips)
            # Sum over the batch: each latent gets the gradient of its own loss only.
            loss = _loss(cfg.loss, e, target).sum() + cfg.prior * (z**2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if progress is not None:
                progress(n)
        with torch.no_grad():
            img = decode(z)
            chips = F.interpolate(img, size=(150, 150), mode="bilinear", align_corners=False) * 255.0
            finals.append(torch.sum(encoder(chips) * target, dim=1).numpy())
            images.append(img.numpy())
    return np.concatenate(images), np.concatenate(finals)


def pseudo_inverse(protected: np.ndarray, transform, spread: float) -> np.ndarray:
    """An attacker's estimate of plain templates from sign-projection templates, given *a* transform.

    For Gaussian ``W``, ``E[Wᵀ sign(W v)] ∝ v/‖v‖``: the back-projection points along the centred
    template.  ``spread`` is the typical ‖x/‖x‖ − c‖ (known from any public face data).  With the
    system's key this recovers a usable template; with a guessed key it gives an unrelated one.
    The scheme is public (Kerckhoffs): the attacker rebuilds ``W`` from a key exactly as the SDK does.
    """
    w = transform._w  # the public derivation of W from a key, as an attacker would run it
    direction = unit(np.asarray(protected, np.float32) @ w)
    return unit(transform.center + spread * direction)


__all__ = ["WhiteBoxConfig", "blackbox_invert", "constant_invert", "pseudo_inverse", "whitebox_invert"]
