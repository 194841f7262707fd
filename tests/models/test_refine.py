"""Refinement stage: generic-mesh pose fit and coordinate map, the net, and the on/off switch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biogate.errors import ConfigError
from biogate.exporters.nets.refine import FaceRefiner, RefineConfig, refine_losses
from biogate.models.refine import CANONICAL_DLIB5, Refiner, coordinate_map, fit_pose


def _rotation(yaw: float, roll: float) -> np.ndarray:
    cy, sy, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry


def test_fit_pose_recovers_a_planted_pose() -> None:
    rot = _rotation(0.3, 0.1)
    marks = 30.0 * CANONICAL_DLIB5 @ rot[:2].T + np.array([64.0, 60.0])
    pose = fit_pose(marks)
    assert pose.residual_px < 1e-3
    assert pose.scale == pytest.approx(30.0, rel=1e-3)
    np.testing.assert_allclose(pose.rotation, rot, atol=1e-3)
    with pytest.raises(ConfigError, match="five finite"):
        fit_pose(marks[:4])
    with pytest.raises(ConfigError, match="unknown landmark scheme"):
        fit_pose(marks, "ibug68")


def test_coordinate_map_covers_the_face() -> None:
    marks = 30.0 * CANONICAL_DLIB5[:, :2] + np.array([64.0, 60.0])
    xyz, mask, _ = coordinate_map(marks, (128, 128))
    assert xyz.shape == (3, 128, 128) and mask.shape == (1, 128, 128)
    assert mask[0, 60, 64] == 1 and mask[0, 2, 2] == 0  # face centre covered, corner not
    assert 0.15 < mask.mean() < 0.6
    assert np.abs(xyz).max() <= 1.0
    # the nose is the nearest point: largest z near the nose-bottom landmark
    nose = marks[4].astype(int)
    z = xyz[2] * mask[0]
    assert z[nose[1] - 8 : nose[1] + 2, nose[0] - 3 : nose[0] + 4].max() >= 0.95 * z.max()
    # no pin-holes inside the covered region
    inner = mask[0, 40:90, 40:90]
    assert inner.min() == 1


def test_refiner_net_identity_at_start_and_losses() -> None:
    torch.manual_seed(0)
    net = FaceRefiner(RefineConfig(mlp_width=8, texture_features=4, unet_width=4)).eval()
    marks = 30.0 * CANONICAL_DLIB5[:, :2] + np.array([32.0, 30.0])
    xyz, mask, _ = coordinate_map(marks, (64, 64))
    image = torch.rand(2, 3, 64, 64)
    coords, m = (
        torch.from_numpy(xyz)[None].repeat(2, 1, 1, 1),
        torch.from_numpy(mask)[None].repeat(2, 1, 1, 1),
    )
    with torch.no_grad():
        torch.testing.assert_close(net(image, coords, m), image)  # zero-initialised renderer output
    losses = refine_losses(net.train(), image, coords, m, image)
    assert set(losses) == {"total", "render", "cycle"} and float(losses["cycle"].detach()) > 0
    losses["total"].backward()
    assert net.to_xyz[0].weight.grad is not None  # the cycle trains the inverse mapping


def test_refiner_switch_off_and_on() -> None:
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    marks = 30.0 * CANONICAL_DLIB5[:, :2] + np.array([32.0, 30.0])
    off = Refiner.disabled()
    assert off(image, marks) is image
    assert Refiner.from_bundle("/nonexistent", enabled=False)(image, marks) is image
    with pytest.raises(ConfigError, match="needs an engine"):
        Refiner(None)
    seen = {}

    def engine(inputs):
        seen.update(inputs)
        return {"refined": 1.0 - inputs["image"]}

    out = Refiner(engine)(image, marks)
    assert seen["coords"].shape == (1, 3, 64, 64) and seen["mask"].shape == (1, 1, 64, 64)
    np.testing.assert_array_equal(out, 255 - image)
    with pytest.raises(ConfigError, match="HxWx3 uint8"):
        Refiner(engine)(image.astype(np.float32), marks)
