"""Tiny real bundles for engine tests, built without torch: an onnx.helper conv net, its
ORT-quantized QDQ twin, and a manifest written by the exporter's own writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from biogate.bundle import sha256_file
from biogate.exporters.registry import ModelSpec, TensorSpec


def _conv_net(path: Path, seed: int = 0) -> None:
    """x(N,1,16,16) → Conv3x3(8) → Relu → Conv3x3(8) → GlobalAveragePool → Flatten → Gemm(4) → y."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (8, 1, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.2, (8, 8, 3, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.normal(0, 0.5, (4, 8)).astype(np.float32), "wf"),
        numpy_helper.from_array(np.zeros(4, np.float32), "bf"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c2"], ["p"], name="gap"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def real_samples(n: int = 8):
    """Real image patches (scikit-image camera), normalised, one per dict."""
    from skimage import data

    img = data.camera().astype(np.float32) / 255.0
    for i in range(n):
        y, x = 40 * i % 480, 23 * i % 480
        yield {"x": img[None, None, y : y + 16, x : x + 16].copy()}


def spec() -> ModelSpec:
    return ModelSpec(
        name="tiny",
        task="classification",
        seed="none",
        build=lambda: None,
        inputs=[TensorSpec("x", (-1, 1, 16, 16), color="GRAY")],
        outputs=[TensorSpec("y", (-1, 4), layout="NC")],
        calibration_data=lambda n: real_samples(n),
        evaluate=lambda infer: {"metric": 1.0},
        metric="agreement",
    )


_CACHE: dict = {}


def make_bundle(
    root: Path,
    *,
    int8_fit: bool = True,
    fp32_ms: float = 2.0,
    int8_ms: float = 1.0,
    with_int8: bool = True,
    with_cache: bool = False,
    cpu_variant_fit: bool | None = None,
) -> Path:
    """Write a verified tiny bundle; ``int8_fit``/latencies set what ``auto`` must decide from."""
    from biogate.exporters.convert.bundle_writer import write_manifest
    from biogate.exporters.convert.calibration import CalibrationDataReader
    from biogate.exporters.convert.int8 import quantize

    root.mkdir(parents=True, exist_ok=True)
    if not _CACHE:  # quantize once per session; every bundle gets byte-identical copies
        _conv_net(root / "model.onnx")
        reader = CalibrationDataReader(real_samples(8), ["x"])
        quantize(root / "model.onnx", root / "model.int8.onnx", reader)
        quantize(root / "model.onnx", root / "cpu.tmp", reader, fmt="cpu")
        _CACHE.update({name: (root / name).read_bytes() for name in ("model.onnx", "model.int8.onnx")})
        _CACHE["model.int8.cpu.onnx"] = (root / "cpu.tmp").read_bytes()
        (root / "cpu.tmp").unlink()
    (root / "model.onnx").write_bytes(_CACHE["model.onnx"])
    int8 = {"available": False, "fit": False, "reason": "not quantized"}
    latency = {"cpu_fp32": fp32_ms}
    if with_int8:
        (root / "model.int8.onnx").write_bytes(_CACHE["model.int8.onnx"])
        latency["cpu_int8"] = int8_ms
        int8 = {
            "available": True,
            "fit": int8_fit,
            "reason": "test verdict",
            "tensorrt": {"explicit_ok": True},
        }
        if cpu_variant_fit is not None:
            (root / "model.int8.cpu.onnx").write_bytes(_CACHE["model.int8.cpu.onnx"])
            int8["cpu"] = {"file": "model.int8.cpu.onnx", "fit": cpu_variant_fit, "reason": "cpu verdict"}
        if with_cache:
            from biogate.exporters.convert.trt.calib_cache import write_from_qdq

            write_from_qdq(root / "model.int8.onnx", root / "calib.cache")
    write_manifest(root, spec(), metrics={"latency_ms": latency}, int8=int8, calibration={"method": "minmax"})
    return root


@pytest.fixture
def bundle_factory(tmp_path):
    counter = iter(range(1000))

    def factory(**kwargs) -> Path:
        return make_bundle(tmp_path / f"b{next(counter)}", **kwargs)

    return factory


def resign(root: Path) -> None:
    """Sign ``root/manifest.json`` as it is now with this user's key (so structure checks are reached)."""
    from biogate.bundle.signing import load_or_create_signing_key, write_signature

    write_signature(root, (root / "manifest.json").read_bytes(), load_or_create_signing_key())


def rewrite_manifest(root: Path, **changes) -> None:
    """Edit manifest keys, re-hash nothing and re-sign with this user's key (manifest-level tests)."""
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))
    resign(root)


__all__ = ["make_bundle", "real_samples", "resign", "rewrite_manifest", "sha256_file"]
