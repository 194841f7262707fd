"""The registered SR/refinement models: shipped weights, real calibration data, held-out metric."""

from __future__ import annotations

import numpy as np

from biogate.exporters import registry
from biogate.exporters.convert.runners import torch_infer


def test_face_sr_shipped_weights_beat_bicubic_on_held_out_faces() -> None:
    spec = registry.get("face_sr")
    assert spec.task == "super_resolution" and spec.metric == "metric" and spec.int8_budget == 0.3
    batch = next(iter(spec.calibration_data(1)))["lr"]
    assert (
        batch.shape == (1, 3, 64, 64)
        and batch.dtype == np.float32
        and 0.0 <= batch.min() <= batch.max() <= 1.0
    )
    metrics = spec.evaluate(torch_infer(spec, spec.build()))
    assert metrics["psnr_gain_db"] >= 1.0  # the target, on identities never trained on
    assert metrics["ssim_gain"] > 0.0


def test_refine_and_rdn_are_registered() -> None:
    assert {"face_sr_rdn", "face_refine"} <= set(registry.names())
    refine = registry.get("face_refine")
    sample = next(iter(refine.calibration_data(1)))
    assert sample["image"].shape == (1, 3, 128, 128) and sample["coords"].shape == (1, 3, 128, 128)
    assert sample["mask"].shape == (1, 1, 128, 128) and 0.1 < sample["mask"].mean() < 0.9
