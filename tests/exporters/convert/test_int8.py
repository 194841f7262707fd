"""The accuracy gate rejects a deliberately badly calibrated model; methods and readers behave."""

from __future__ import annotations

import numpy as np
import pytest

from biogate import engine
from biogate.errors import ConfigError, EngineError
from biogate.exporters import registry
from biogate.exporters.convert.calibration import CalibrationDataReader, CalibrationMethod, resolve_method
from biogate.exporters.convert.int8 import quantize, quantize_gated


def _raw_pixels(n):
    """The classic bug: calibrating on un-normalised 0..255 pixels instead of the model's input."""
    from biogate.exporters.zoo import reference_cnn

    patches, _ = reference_cnn.held_out_patches(stride=32)
    for i in range(min(n, len(patches))):
        yield {"image": patches[i : i + 1, None].astype(np.float32)}


def test_gate_rejects_bad_calibration_and_auto_keeps_fp32(ref_bundle, tmp_path):
    spec = registry.get("reference_cnn")
    fp32 = ref_bundle.manifest["metrics"]["fp32"]["metric"]
    reader = CalibrationDataReader(_raw_pixels(32), ["image"])
    verdict = quantize_gated(
        spec, ref_bundle.path("model.onnx"), tmp_path / "bad.int8.onnx", reader, fp32, max_retries=1
    )
    assert not verdict.fit
    assert verdict.drop > spec.int8_budget
    assert "exceeds budget" in verdict.reason
    assert (
        len(verdict.attempts) == 2 and verdict.attempts[1]["excluded"] > 0
    )  # it retried without the worst nodes
    assert verdict.sensitivity and verdict.sensitivity[0]["error"] >= verdict.sensitivity[-1]["error"]


def test_exported_bad_bundle_is_unfit_and_refused(tmp_path):
    from biogate.exporters import export

    bundle = export(
        "reference_cnn",
        tmp_path,
        int8=True,
        calibration_data=_raw_pixels,
        calib_samples=16,
        max_retries=0,
        parity_samples=2,
        measure_latency=False,
    )
    assert bundle.int8["fit"] is False
    assert bundle.manifest["recommended_precision"]["cpu"] == "fp32"
    assert engine.load(bundle, backend="onnxruntime").info.precision == "fp32"
    with pytest.raises(EngineError, match="accuracy gate"):
        engine.load(bundle, precision="int8")


@pytest.mark.parametrize("method", ["entropy", "percentile", "MinMax"])
def test_every_calibration_method_gives_a_symmetric_trt_model(tmp_path, method):
    from engine.conftest import _conv_net, real_samples

    from biogate.exporters.convert.trt.qdq_rules import check_file

    _conv_net(tmp_path / "m.onnx")
    out = quantize(
        tmp_path / "m.onnx", tmp_path / "q.onnx", CalibrationDataReader(real_samples(6), ["x"]), method
    )
    assert check_file(out) == []


def test_method_names_and_reader():
    assert resolve_method("Entropy") is CalibrationMethod.ENTROPY
    assert resolve_method(CalibrationMethod.PERCENTILE) is CalibrationMethod.PERCENTILE
    with pytest.raises(ConfigError, match="minmax, entropy, percentile"):
        resolve_method("kl")
    reader = CalibrationDataReader([{"x": np.zeros((2, 3))}, {"x": np.ones((1, 3))}], ["x"])
    assert len(reader) == 3 and reader.get_next()["x"].dtype == np.float32
    assert reader.get_next() is not None and reader.get_next() is None
    reader.rewind()
    assert reader.get_next() is not None
    with pytest.raises(ConfigError, match="empty"):
        CalibrationDataReader([], ["x"])
