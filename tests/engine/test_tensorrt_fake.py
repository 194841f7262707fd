"""TensorRT backend and builder against faithful fakes of tensorrt/pycuda (no GPU here).

What these prove: the calls biogate makes exist with these signatures and semantics in the
fakes (modelled on the TensorRT 8.6/10 Python API), engine names carry version/GPU/precision,
mismatched engines are rebuilt, dynamic shapes get a profile, implicit INT8 reads the bundle's
calib.cache.  What they cannot prove: that a real GPU produces the same numbers.
"""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest

from biogate import engine
from biogate.engine.trt_build import BuildConfig, build_engine, engine_filename
from biogate.errors import BackendUnavailable, ConfigError, EngineError

from . import fake_trt
from .conftest import real_samples


@pytest.fixture
def trt(monkeypatch):
    return fake_trt.install(monkeypatch)


def _x(n=2):
    return np.concatenate([s["x"] for s in real_samples(n)])


def test_without_tensorrt_auto_falls_back_and_explicit_fails(bundle_factory, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails like on the build machine
    root = bundle_factory()
    assert engine.load(root).info.backend == "onnxruntime"
    with pytest.raises(BackendUnavailable, match="tensorrt"):
        engine.load(root, backend="tensorrt")


def test_engine_name_ties_version_gpu_precision():
    name = engine_filename("face_embed", "int8", "8.6.1", "Orin (nvgpu)", "8.7")
    assert name == "face_embed.int8.trt8.6.1.orin-nvgpu.sm87.engine"


def test_fp16_engine_builds_runs_and_matches_onnxruntime(trt, bundle_factory):
    root = bundle_factory()
    eng = engine.load(root, backend="tensorrt", precision="fp16", max_batch=4)
    x = _x(3)
    ref = ort.InferenceSession(str(root / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]
    np.testing.assert_allclose(eng({"x": x})["y"], ref, rtol=1e-5, atol=1e-6)
    info = eng.info
    assert info.backend == "tensorrt" and info.precision == "fp16"
    assert info.extra["engine_file"] == "tiny.fp16.trt8.6.1.orin-nvgpu.sm87.engine"
    build = trt.Builder.builds[-1]
    assert build["flags"] == ["FP16"]
    assert build["profile"]["x"] == [[1, 1, 16, 16], [1, 1, 16, 16], [4, 1, 16, 16]]
    with pytest.raises(EngineError, match="max_batch"):
        eng({"x": _x(5)})
    eng.close()


def test_engine_is_cached_and_rebuilt_on_version_change(trt, bundle_factory, monkeypatch):
    root = bundle_factory()
    engine.load(root, backend="tensorrt", precision="fp16").close()
    engine.load(root, backend="tensorrt", precision="fp16").close()
    assert len(trt.Builder.builds) == 1  # second load reused the cached engine + timing cache
    assert (root / "engines" / "timing.trt8.6.1.cache").is_file()
    new = fake_trt.install(monkeypatch, version="10.3.0")
    eng = engine.load(root, backend="tensorrt", precision="fp16")
    assert eng.info.extra["engine_file"].startswith("tiny.fp16.trt10.3.0.")
    assert len(new.Builder.builds) == 1
    assert sorted(p.name for p in (root / "engines").glob("*.engine")) == [
        "tiny.fp16.trt10.3.0.orin-nvgpu.sm87.engine",
        "tiny.fp16.trt8.6.1.orin-nvgpu.sm87.engine",
    ]


def test_foreign_engine_file_is_rebuilt_or_refused(trt, bundle_factory):
    root = bundle_factory()
    eng = engine.load(root, backend="tensorrt", precision="fp16")
    path = root / "engines" / eng.info.extra["engine_file"]
    eng.close()
    record = json.loads(path.read_bytes())
    record["version"] = "8.5.2"  # an engine from another TensorRT under the expected name
    path.write_bytes(json.dumps(record).encode())
    with pytest.raises(EngineError, match="cannot deserialise"):
        engine.load(root, backend="tensorrt", precision="fp16", rebuild=False)
    engine.load(root, backend="tensorrt", precision="fp16").close()  # rebuilds
    assert json.loads(path.read_bytes())["version"] == "8.6.1"


def test_explicit_int8_uses_the_qdq_file(trt, bundle_factory):
    root = bundle_factory(int8_fit=True)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["int8"]["fit"]
    eng = engine.load(root, backend="tensorrt", precision="int8")
    build = trt.Builder.builds[-1]
    assert build["onnx"].endswith("model.int8.onnx")
    assert set(build["flags"]) == {"FP16", "INT8"} and not build["calibrator_used"]
    assert eng({"x": _x(1)})["y"].shape == (1, 4)


def test_implicit_int8_on_old_tensorrt_reads_the_calib_cache(monkeypatch, bundle_factory, tmp_path):
    trt = fake_trt.install(monkeypatch, version="8.5.2")
    root = bundle_factory(int8_fit=True, with_cache=True)
    engine.load(root, backend="tensorrt", precision="int8").close()
    build = trt.Builder.builds[-1]
    assert build["onnx"].endswith("model.onnx") and build["calibrator_used"]
    assert build["calib_batches"] == 0  # the cache answered; no data needed on the device


def test_calibrator_feeds_batches_and_writes_cache(trt, tmp_path):
    from biogate.engine.trt_calibrator import EntropyCalibrator
    from biogate.exporters.convert.calibration import CalibrationDataReader

    from .conftest import _conv_net

    _conv_net(tmp_path / "m.onnx")
    reader = CalibrationDataReader(real_samples(5), ["x"])
    cache = tmp_path / "calib.cache"
    calib = EntropyCalibrator(reader, cache)
    assert isinstance(calib, trt.IInt8EntropyCalibrator2)
    build_engine(tmp_path / "m.onnx", BuildConfig(precision="int8", calibrator=calib, explicit_int8=False))
    assert trt.Builder.builds[-1]["calib_batches"] == 5
    assert cache.read_bytes().startswith(b"TRT-")


def test_dla_and_bad_configs(trt, tmp_path):
    from .conftest import _conv_net

    _conv_net(tmp_path / "m.onnx")
    build_engine(tmp_path / "m.onnx", BuildConfig(precision="fp16", dla_core=1))
    assert trt.Builder.builds[-1]["dla"] == 1
    with pytest.raises(ConfigError, match="precision"):
        build_engine(tmp_path / "m.onnx", BuildConfig(precision="tf32"))
    with pytest.raises(ConfigError, match="max_batch"):
        build_engine(tmp_path / "m.onnx", BuildConfig(min_batch=4, opt_batch=2))
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    with pytest.raises(EngineError, match="cannot parse"):
        build_engine(tmp_path / "bad.onnx", BuildConfig())


def test_auto_precision_on_gpu_without_fast_int8_is_fp16(trt, bundle_factory):
    trt.Builder.fast_int8 = False  # e.g. Jetson Nano / TX2
    eng = engine.load(bundle_factory(int8_fit=True))
    assert eng.info.backend == "tensorrt" and eng.info.precision == "fp16"


def test_cuda_python_is_used_where_pycuda_is_absent(monkeypatch, bundle_factory):
    fake_trt.install(monkeypatch, cuda="cuda-python")
    root = bundle_factory()
    eng = engine.load(root, backend="tensorrt", precision="fp16")
    assert "CUDA via cuda-python" in eng.info.providers
    assert eng.info.extra["engine_file"] == "tiny.fp16.trt8.6.1.nvidia-geforce-rtx-3060.sm86.engine"
    x = _x(2)
    ref = ort.InferenceSession(str(root / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]
    np.testing.assert_allclose(eng({"x": x})["y"], ref, rtol=1e-5, atol=1e-6)
    eng.close()
