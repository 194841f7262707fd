"""Fixtures shared across test packages.

``signed_bundle``: a factory of small *real* bundles — a one-node ONNX graph (``image`` → mean →
``delta``), a manifest written and signed by the exporter's own writer with this user's key, and,
for a deciding ``role``, the fitness section judged from the given metrics.
``detector_bundles``: the any-orientation face detector's bundles, exported once per session.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest


def _mean_net(path: Path, side: int) -> None:
    from onnx import TensorProto, helper, save

    node = helper.make_node("ReduceMean", ["image"], ["delta"], axes=[1, 2, 3], keepdims=0)
    graph = helper.make_graph(
        [node],
        "mean",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info("delta", TensorProto.FLOAT, ["N"])],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))


def write_signed_bundle(
    root: Path,
    *,
    name: str = "face_liveness",
    task: str = "liveness",
    seed: str = "004",
    thresholds: dict[str, Any] | None = None,
    role: str = "",
    metrics: dict[str, float] | None = None,
    side: int = 16,
    signing_key: Any = None,
) -> Path:
    """Write a verified, signed bundle at ``root`` (the parent folder is created)."""
    pytest.importorskip("onnx")
    from biogate.exporters.convert.bundle_writer import write_manifest
    from biogate.exporters.registry import ModelSpec, TensorSpec

    root.mkdir(parents=True, exist_ok=True)
    _mean_net(root / "model.onnx", side)
    spec = ModelSpec(
        name=name,
        task=task,
        seed=seed,
        build=lambda: None,
        inputs=[TensorSpec("image", (-1, 3, side, side), color="RGB")],
        outputs=[TensorSpec("delta", (-1,), layout="N")],
        calibration_data=lambda n: iter(()),
        evaluate=lambda infer: {"metric": 0.0},
        metric="metric",
        thresholds=dict({"delta": 0.5, "crop_margin": 0.25} if thresholds is None else thresholds),
        role=role,
        evaluation="a test fixture's stated metrics",
    )
    write_manifest(root, spec, signing_key, metrics={"fp32": dict(metrics or {})})
    return root


@pytest.fixture
def signed_bundle(tmp_path):
    """``signed_bundle(name=..., task=..., thresholds=..., role=..., metrics=..., parent=...) -> Path``.

    Each bundle goes to ``parent/<name>`` (default: a fresh folder under ``tmp_path``).
    """
    counter = iter(range(1000))

    def factory(parent: Path | None = None, **kwargs: Any) -> Path:
        folder = parent if parent is not None else tmp_path / f"bundle{next(counter)}"
        return write_signed_bundle(folder / kwargs.get("name", "face_liveness"), **kwargs)

    return factory


@pytest.fixture(scope="session")
def kiosk_bundles(tmp_path_factory) -> Path:
    """The demo's prepared folder: the kiosk bundles (MTCNN ×3, dlib embedder, the shipped
    face_liveness) and the walk-up's visitors (``walkup/``), made once per session.

    Exported from the shipped weights with the real evaluations, so their fitness sections are the
    shipped models' own (``biogate demo --prepare DIR``). ``$BIOGATE_DEMO_FOLDER`` names a folder
    prepared already (``make test`` shares the one ``make wheel-test`` used).
    """
    pytest.importorskip("torch")
    from biogate.exporters.convert.demo_bundles import prepare

    given = os.environ.get("BIOGATE_DEMO_FOLDER")
    return prepare(Path(given) if given else tmp_path_factory.mktemp("demo-folder"), log=lambda *_: None)


@pytest.fixture(scope="session")
def detector_bundles(tmp_path_factory):
    """A folder with the any-orientation cascade's bundles (``AnyAngleFaceDetector.BUNDLES``, FP32 ONNX)."""
    from biogate.exporters.data import weight_packages

    if not weight_packages.available("facenet_pytorch"):
        pytest.skip("MTCNN weights need: python -m biogate.exporters.data.weight_packages")
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from biogate.exporters import export, registry
    from biogate.models.face_detect_any import AnyAngleFaceDetector

    folder = tmp_path_factory.mktemp("detector_bundles")
    for name in AnyAngleFaceDetector.BUNDLES:
        # Metrics are measured by the bundle build and bench_detect; here: ONNX, parity, manifest.
        spec = dataclasses.replace(registry.get(name), evaluate=lambda infer: {"metric": 1.0})
        export(spec, folder, measure_latency=False, parity_samples=2, calib_samples=1)
    return folder
