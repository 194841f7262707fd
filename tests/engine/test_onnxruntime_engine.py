"""biogate.engine.load on ONNX Runtime CPU: outputs, info, validation errors, auto precision."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from biogate import engine
from biogate.errors import ConfigError, EngineError

from .conftest import real_samples


def _batch(n: int = 3) -> np.ndarray:
    return np.concatenate([s["x"] for s in real_samples(n)])


def test_fp32_matches_a_plain_session(bundle_factory):
    root = bundle_factory()
    eng = engine.load(root, precision="fp32")
    x = _batch(3)
    ref = ort.InferenceSession(str(root / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]
    out = eng({"x": x})
    assert set(out) == {"y"}
    np.testing.assert_allclose(out["y"], ref, rtol=1e-5, atol=1e-6)
    assert eng.info.backend == "onnxruntime"
    assert eng.info.providers == ["CPUExecutionProvider"]
    assert eng.info.precision == "fp32"
    assert eng.info.inputs[0].name == "x" and eng.info.inputs[0].shape == (-1, 1, 16, 16)


def test_outputs_are_copies_unless_reused(bundle_factory):
    root = bundle_factory()
    eng = engine.load(root, precision="fp32")
    a = eng({"x": _batch(2)})["y"]
    b = eng({"x": _batch(2)[::-1].copy()})["y"]
    assert not np.shares_memory(a, b)
    reuse = engine.load(root, precision="fp32", reuse_outputs=True)
    c = reuse({"x": _batch(2)})["y"]
    d = reuse({"x": _batch(2)})["y"]
    assert np.shares_memory(c, d)  # the preallocated IO-binding buffer


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ({"x": np.zeros((1, 1, 16, 16), np.float64)}, "dtype float64, expected float32"),
        ({"x": np.zeros((1, 3, 16, 16), np.float32)}, r"shape \(1, 3, 16, 16\), expected \('N', 1, 16, 16\)"),
        ({"x": np.zeros((1, 16, 16), np.float32)}, "shape"),
        ({"image": np.zeros((1, 1, 16, 16), np.float32)}, "missing"),
        ({"x": [[0.0]]}, "numpy array"),
    ],
)
def test_bad_inputs_are_clear_errors(bundle_factory, inputs, match):
    eng = engine.load(bundle_factory(), precision="fp32")
    with pytest.raises(EngineError, match=match):
        eng(inputs)


def test_missing_provider_and_bad_options(bundle_factory):
    root = bundle_factory()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(EngineError, match=r"CUDAExecutionProvider|not available"):
            engine.load(root, providers="cuda")
    with pytest.raises(ConfigError, match="backend"):
        engine.load(root, backend="openvino")
    with pytest.raises(ConfigError, match="precision"):
        engine.load(root, precision="int4")
    with pytest.raises(ConfigError, match="unknown onnxruntime option"):
        engine.load(root, backend="onnxruntime", thread=2)
    with pytest.raises(EngineError, match="fp16"):
        engine.load(root, backend="onnxruntime", precision="fp16")


def test_auto_picks_int8_only_when_fit_and_faster(bundle_factory):
    fast = engine.load(bundle_factory(int8_fit=True, fp32_ms=2.0, int8_ms=1.0), backend="onnxruntime")
    assert fast.info.precision == "int8" and "faster" in fast.info.reason
    assert fast.info.model_file.endswith("model.int8.onnx")
    slow = engine.load(bundle_factory(int8_fit=True, fp32_ms=1.0, int8_ms=2.5), backend="onnxruntime")
    assert slow.info.precision == "fp32" and "not faster" in slow.info.reason
    unfit = engine.load(bundle_factory(int8_fit=False, fp32_ms=2.0, int8_ms=1.0), backend="onnxruntime")
    assert unfit.info.precision == "fp32" and "gate" in unfit.info.reason
    none = engine.load(bundle_factory(with_int8=False), backend="onnxruntime")
    assert none.info.precision == "fp32"


def test_explicit_int8_on_unfit_bundle_is_refused(bundle_factory):
    root = bundle_factory(int8_fit=False)
    with pytest.raises(EngineError, match="accuracy gate"):
        engine.load(root, precision="int8")
    eng = engine.load(root, backend="onnxruntime", precision="int8", allow_unfit=True)
    assert eng.info.precision == "int8"
    with pytest.raises(EngineError, match=r"no model\.int8\.onnx"):
        engine.load(bundle_factory(with_int8=False), precision="int8")


def test_closed_engine_refuses(bundle_factory):
    with engine.load(bundle_factory(), precision="fp32") as eng:
        eng({"x": _batch(1)})
    with pytest.raises(EngineError, match="closed"):
        eng({"x": _batch(1)})


def test_importing_the_engine_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys, biogate, biogate.engine, biogate.bundle, biogate.engine.onnxruntime; "
        "print('torch' in sys.modules, 'onnx' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


def test_cpu_int8_runs_the_u8s8_variant_when_the_bundle_names_it(bundle_factory):
    root = bundle_factory(int8_fit=True, cpu_variant_fit=True)
    eng = engine.load(root, backend="onnxruntime")
    assert eng.info.precision == "int8" and eng.info.model_file.endswith("model.int8.cpu.onnx")
    x = _batch(2)
    fp32 = engine.load(root, precision="fp32")({"x": x})["y"]
    assert np.abs(eng({"x": x})["y"] - fp32).max() < 0.1 * np.abs(fp32).max()
    unfit = engine.load(bundle_factory(int8_fit=True, cpu_variant_fit=False), backend="onnxruntime")
    assert unfit.info.precision == "fp32"  # the CPU file's own verdict decides on CPU
