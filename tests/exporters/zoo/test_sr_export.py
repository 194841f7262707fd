"""Export parity: the SR and refinement nets through biogate.exporters.export and back via the engine."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import torch

from biogate import engine
from biogate.exporters import export
from biogate.exporters.nets.dual_sr import EDGE, DualChannelSR
from biogate.exporters.nets.refine import FaceRefiner, RefineConfig
from biogate.exporters.zoo import face_refine, face_sr
from biogate.models import Refiner, SuperResolver
from biogate.models.refine import CANONICAL_DLIB5

TINY = replace(EDGE, width=8, growth=4, n_dense=2, dense_depth=2, dict_atoms=32)


def _tiny_sr() -> DualChannelSR:
    torch.manual_seed(0)
    net = DualChannelSR(replace(TINY, image_skip=False)).without_aux()
    return net


def test_dual_sr_export_parity_and_sdk(tmp_path) -> None:
    net = _tiny_sr()
    spec = replace(face_sr.SPEC, name="face_sr_tiny", build=lambda: net, calib_samples=4)
    bundle = export(spec, tmp_path, int8=False, measure_latency=False, parity_samples=4)
    parity = bundle.manifest["metrics"]["parity"]
    assert parity["max_abs"] < 1e-4 and parity["min_cosine"] > 0.9999
    import onnx

    graph = onnx.load(str(bundle.root / "model.onnx")).graph
    assert len(graph.output) == 1  # inference graph only: no auxiliary heads
    sr = SuperResolver(engine.load(bundle.root, precision="fp32", threads=1))
    face = np.random.default_rng(0).integers(0, 255, (90, 90, 3), dtype=np.uint8)
    out = sr(face)
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    small = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(small.transpose(2, 0, 1)[None] / 255.0).float()
    with torch.no_grad():
        ref = np.clip(net(x)[0].numpy().transpose(1, 2, 0) * 255 + 0.5, 0, 255)
    assert np.abs(out.astype(np.float32) - ref).max() <= 1.0
    # enhance(): crop around a box of a BGR frame, landmarks follow into the SR image
    frame = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    got = sr.enhance(frame, (100, 80, 180, 160), landmarks=np.array([[140.0, 120.0]] * 5))
    assert got.image.shape == (128, 128, 3)
    np.testing.assert_allclose(got.landmarks[0], [64.0, 64.0], atol=1.0)


def test_refine_export_parity_and_switch(tmp_path) -> None:
    torch.manual_seed(0)
    net = FaceRefiner(RefineConfig(mlp_width=8, texture_features=4, unet_width=4))
    torch.nn.init.normal_(net.renderer.out.weight, std=0.1)  # not the identity start: parity must be real
    net.eval()

    def calib(n: int):
        rng = np.random.default_rng(0)
        marks = 30.0 * CANONICAL_DLIB5[:, :2] + np.array([64.0, 60.0])
        coords, mask = face_refine.coords_for(marks[None])
        for _ in range(n):
            yield {"image": rng.random((1, 3, 128, 128), dtype=np.float32), "coords": coords, "mask": mask}

    spec = replace(
        face_refine.SPEC,
        name="face_refine_tiny",
        build=lambda: net,
        calibration_data=calib,
        evaluate=lambda infer: {"metric": 0.0},
        calib_samples=2,
    )
    bundle = export(spec, tmp_path, int8=False, measure_latency=False, parity_samples=2)
    assert bundle.manifest["metrics"]["parity"]["max_abs"] < 1e-4
    image = np.random.default_rng(2).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    marks = 30.0 * CANONICAL_DLIB5[:, :2] + np.array([64.0, 60.0])
    on = Refiner.from_bundle(bundle.root, precision="fp32", threads=1)
    refined = on(image, marks)
    assert refined.shape == image.shape and not np.array_equal(refined, image)
    off = Refiner.from_bundle(bundle.root, enabled=False)
    assert off(image, marks) is image
