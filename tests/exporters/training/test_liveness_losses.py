"""Each of the four seed-004 losses on tensors whose value is known by hand."""

from __future__ import annotations

import math

import torch

from biogate.exporters.nets.liveness import Latents
from biogate.exporters.training.train_liveness import (
    discriminator_loss,
    generator_adversarial_loss,
    identity_loss,
    latent_loss,
    pixel_loss,
)


def test_pixel_loss_is_l1_over_h_w() -> None:
    image = torch.zeros(2, 3, 4, 4)
    rec = torch.full((2, 3, 4, 4), 0.5)
    # ‖I − I_real‖₁ = 3·16·0.5 = 24 per image; / (H·W = 16) = 1.5
    assert math.isclose(float(pixel_loss(image, rec)), 1.5, rel_tol=1e-6)
    rec[1] = 0.0  # second image perfect: batch mean halves
    assert math.isclose(float(pixel_loss(image, rec)), 0.75, rel_tol=1e-6)


def test_adversarial_losses() -> None:
    even = torch.zeros(4, 2)  # D undecided: softmax 0.5 / 0.5
    assert math.isclose(float(discriminator_loss(even, even)), 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(float(generator_adversarial_loss(even)), math.log(2), rel_tol=1e-6)
    sure_real = torch.tensor([[-20.0, 20.0]] * 4)
    sure_fake = torch.tensor([[20.0, -20.0]] * 4)
    assert float(discriminator_loss(sure_real, sure_fake)) < 1e-6  # D right on both
    assert float(generator_adversarial_loss(sure_fake)) > 39.0  # G caught: −log D(I_real) ≈ 40
    # D(x) = softmax class 1 = sigmoid(l1 − l0): check one asymmetric value by hand
    logits = torch.tensor([[0.0, math.log(3.0)]])  # D = 3/4
    assert math.isclose(float(generator_adversarial_loss(logits)), -math.log(0.75), rel_tol=1e-6)


def test_identity_loss_is_l2_over_m() -> None:
    f_in = torch.zeros(2, 8)
    f_c = torch.zeros(2, 8)
    f_c[0, :2] = torch.tensor([3.0, 4.0])  # ‖·‖₂ = 5 for the first image, 0 for the second
    assert math.isclose(float(identity_loss(f_in, f_c)), (5.0 / 8 + 0.0) / 2, rel_tol=1e-6)


def test_latent_loss_and_stop_gradient() -> None:
    zf = torch.ones(2, 4, 3, 3, requires_grad=True)
    zb = torch.zeros(2, 4, 3, 3, requires_grad=True)
    zf2 = torch.full((2, 4, 3, 3), 0.75, requires_grad=True)
    zb2 = torch.full((2, 4, 3, 3), -0.5, requires_grad=True)
    loss = latent_loss(Latents(zf, zb), Latents(zf2, zb2))
    assert math.isclose(float(loss.detach()), 0.25 + 0.5, rel_tol=1e-6)
    loss.backward()
    assert zf.grad is None and zb.grad is None  # first-encoder latents are targets only
    assert zf2.grad is not None and zb2.grad is not None
    both = latent_loss(Latents(zf, zb), Latents(zf2.detach(), zb2.detach()), stop_gradient=False)
    both.backward()
    assert zf.grad is not None
