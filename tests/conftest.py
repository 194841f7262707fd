"""Shared fixtures: bundles of the any-orientation face detector, exported once per session."""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest


@pytest.fixture(scope="session")
def detector_bundles(tmp_path_factory):
    """A folder with ``face_detect_any``, ``mtcnn_rnet`` and ``mtcnn_onet`` bundles (FP32 ONNX)."""
    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip("MTCNN weights need: pip install --no-deps facenet-pytorch==2.6.0")
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from biogate.exporters import export, registry

    folder = tmp_path_factory.mktemp("detector_bundles")
    for name in ("face_detect_any", "mtcnn_rnet", "mtcnn_onet"):
        # Metrics are measured by the bundle build and bench_detect; here: ONNX, parity, manifest.
        spec = dataclasses.replace(registry.get(name), evaluate=lambda infer: {"metric": 1.0})
        export(spec, folder, measure_latency=False, parity_samples=2, calib_samples=1)
    return folder
