"""export() end to end on the reference CNN: ONNX, parity, INT8 gate, cache, manifest, verify."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from biogate import engine
from biogate.bundle import REQUIRED_KEYS, verify
from biogate.errors import ConfigError
from biogate.exporters import registry
from biogate.exporters.convert.parity import ParityError, check, compare
from biogate.exporters.convert.trt.calib_cache import read_cache
from biogate.exporters.convert.trt.qdq_rules import check_file


def test_manifest_holds_every_design_field(ref_bundle):
    m = verify(ref_bundle.root)
    assert set(REQUIRED_KEYS) <= set(m)
    assert {"model.onnx", "model.int8.onnx", "calib.cache"} <= set(m["files"])
    assert m["inputs"][0]["shape"] == [-1, 1, 64, 64] and m["inputs"][0]["color"] == "GRAY"
    assert m["calibration"]["method"] == "minmax" and m["calibration"]["samples"] == 128
    assert len(m["calibration"]["sha256"]) == 64
    assert {"cpu_fp32", "cpu_int8"} <= set(m["metrics"]["latency_ms"])
    assert m["export"]["opset"] >= 17


def test_onnx_is_checked_opset17_with_dynamic_batch(ref_bundle):
    model = onnx.load(str(ref_bundle.path("model.onnx")))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.HasField("dim_value")


def test_parity_within_target_and_engine_matches_torch(ref_bundle):
    parity = ref_bundle.manifest["metrics"]["parity"]
    assert parity["max_rel"] <= 1e-4 and parity["min_cosine"] >= 0.9999
    spec = registry.get("reference_cnn")
    net = spec.build()
    samples = np.concatenate([s["image"] for s in spec.calibration_data(5)])
    with torch_no_grad():
        import torch

        ref = net(torch.from_numpy(samples)).numpy()
    eng = engine.load(ref_bundle, backend="onnxruntime", precision="fp32")
    got = eng({"image": samples})["logits"]  # batch 5: the dynamic axis works
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) <= 1e-4


def torch_no_grad():
    import torch

    return torch.no_grad()


def test_int8_gate_verdict_and_trt_artifacts(ref_bundle):
    m = ref_bundle.manifest
    int8 = m["int8"]
    fp32_acc, int8_acc = m["metrics"]["fp32"]["accuracy"], m["metrics"]["int8"]["accuracy"]
    assert fp32_acc > 0.9  # the shipped weights really learned the task
    assert int8["metric_drop"] == pytest.approx(fp32_acc - int8_acc)
    assert int8["fit"] == (int8["metric_drop"] <= int8["budget"])
    assert int8["tensorrt"]["explicit_ok"], int8["tensorrt"]["violations"]
    assert check_file(ref_bundle.path("model.int8.onnx")) == []
    header, scales = read_cache(ref_bundle.path("calib.cache"))
    assert header.startswith("TRT-")
    names = {o for n in onnx.load(str(ref_bundle.path("model.onnx"))).graph.node for o in n.output} | {
        "image"
    }
    assert scales and set(scales) <= names  # cache keys are tensors of the FP32 network
    assert all(s > 0 for s in scales.values())
    cpu = int8["cpu"]  # the INT8 file ONNX Runtime CPU runs (U8S8 variant when that is faster)
    assert cpu["file"] in m["files"]
    expected_cpu = "int8" if cpu["fit"] and int8["faster_on_cpu"] else "fp32"
    assert m["recommended_precision"]["cpu"] == expected_cpu
    eng = engine.load(ref_bundle, backend="onnxruntime")
    assert eng.info.precision == expected_cpu
    if expected_cpu == "int8":
        assert eng.info.model_file.endswith(cpu["file"])
        assert m["metrics"]["latency_ms"]["cpu_int8"] < m["metrics"]["latency_ms"]["cpu_fp32"]


def test_unknown_model_lists_the_registered_ones(tmp_path):
    from biogate.exporters import export

    with pytest.raises(ConfigError, match="reference_cnn"):
        export("no_such_model", tmp_path)


def test_parity_check_fails_loudly():
    ref = lambda d: {"y": d["x"] * 2.0}  # noqa: E731
    off = lambda d: {"y": d["x"] * 2.0 + 0.01}  # noqa: E731
    samples = [{"x": np.ones((1, 4), np.float32)}, {"x": np.full((1, 4), 3.0, np.float32)}]
    report = compare(ref, off, samples, atol=1e-4)
    assert report.max_abs == pytest.approx(0.01, rel=1e-3)
    with pytest.raises(ParityError, match="parity check failed"):
        check(report, "model m")
    assert check(compare(ref, ref, samples, atol=1e-4), "m").ok


def test_importing_exporters_does_not_import_torch():
    code = "import sys, biogate.exporters, biogate.exporters.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_manifest_is_plain_json(ref_bundle):
    text = (ref_bundle.root / "manifest.json").read_text()
    assert json.loads(text)["name"] == "reference_cnn"
