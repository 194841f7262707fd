"""The face models go through the exporter into bundles that the SDK loads with biogate.engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from biogate.exporters import registry
from biogate.exporters.data import weight_packages

needs_weights = pytest.mark.skipif(
    not weight_packages.available("facenet_pytorch"),
    reason="MTCNN weights need: python -m biogate.exporters.data.weight_packages",
)


def test_face_models_are_registered_with_real_calibration_data():
    names = registry.names()
    for name in ("mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "face_embed_dlib", "face_detect_yolo"):
        assert name in names
    embed = registry.get("face_embed_dlib")
    assert embed.thresholds == {"distance": 0.6, "cosine": 0.93}
    assert embed.int8_budget == 0.01 and embed.metric == "decision_agreement"
    batch = next(iter(embed.calibration_data(4)))["image"]
    assert batch.shape == (4, 3, 150, 150) and batch.dtype == np.float32 and batch.max() > 100


@needs_weights
def test_mtcnn_bundles_run_the_cascade_through_engines(tmp_path):
    pytest.importorskip("torch").set_num_threads(1)
    import skimage.data

    from biogate.exporters import export
    from biogate.models import MTCNNDetector

    for name in ("mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"):
        # The cascade evaluation is exercised elsewhere; here: ONNX, parity, manifest, hashes.
        spec = dataclasses.replace(registry.get(name), evaluate=lambda infer: {"metric": 1.0})
        bundle = export(spec, tmp_path, measure_latency=False, parity_samples=2, calib_samples=1)
        assert bundle.manifest["thresholds"]["face"] > 0.5
        assert bundle.manifest["metrics"]["parity"]["max_abs"] < 1e-4
    # A stand-in evaluation proves nothing: load it as a non-deciding detector.
    det = MTCNNDetector.from_bundles(tmp_path, min_face=40, threads=1, require_fit=False)
    faces = det.detect(skimage.data.astronaut())
    assert len(faces) == 1 and faces[0].score > 0.99
    assert faces[0].landmarks.shape == (5, 2)
