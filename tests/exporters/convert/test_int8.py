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


def _saturating_qdq_conv(path):
    """A 1x1 QDQ S8S8 Conv whose int8 products are all 127 x 127: the case where AVX2 CPUs without
    VNNI saturate the int16 partial sums of ONNX Runtime's fused kernel."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    c = 64
    inits = [
        numpy_helper.from_array(np.array(1 / 127, np.float32), "s_in"),
        numpy_helper.from_array(np.array(0, np.int8), "z"),
        numpy_helper.from_array(np.full((1, c, 1, 1), 127, np.int8), "w_q"),
        numpy_helper.from_array(np.full((1,), 1 / 127, np.float32), "s_w"),
        numpy_helper.from_array(np.zeros((1,), np.int8), "z_w"),
        numpy_helper.from_array(np.array(c / 127, np.float32), "s_out"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "s_in", "z"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "s_w", "z_w"], ["w"], axis=0),
        helper.make_node("Conv", ["x_dq", "w"], ["y_f"]),
        helper.make_node("QuantizeLinear", ["y_f", "s_out", "z"], ["y_q"]),
        helper.make_node("DequantizeLinear", ["y_q", "s_out", "z"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "sat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return c


def test_the_tensorrt_file_is_gated_on_tensorrt_numerics_not_the_cpus_int8_kernels(
    ref_bundle, tmp_path, monkeypatch
):
    from biogate.exporters.convert import int8 as int8_module
    from biogate.exporters.convert.runners import ort_infer

    # Unfused QDQ gives the exact explicit-quantization result (TensorRT's), on any CPU.
    c = _saturating_qdq_conv(tmp_path / "sat.onnx")
    x = np.ones((1, c, 4, 4), np.float32)
    exact = ort_infer(tmp_path / "sat.onnx", fuse_qdq=False)({"x": x})["y"]
    assert np.allclose(exact, c)  # sum of c products (127/127) x (127/127); AVX2's fused kernel gives ~0.5
    # The gate runs the TensorRT file unfused and the CPU file through the kernels it ships for.
    seen = []

    def recording(path, threads=1, fuse_qdq=True):
        seen.append((path.name, fuse_qdq))
        return ort_infer(path, threads, fuse_qdq)

    monkeypatch.setattr(int8_module, "ort_infer", recording)
    spec = registry.get("reference_cnn")
    fp32 = ref_bundle.manifest["metrics"]["fp32"]["metric"]
    for fmt, name in (("trt", "m.int8.onnx"), ("cpu", "m.int8.cpu.onnx")):
        reader = CalibrationDataReader(spec.calibration_data(16), ["image"])
        quantize_gated(
            spec, ref_bundle.path("model.onnx"), tmp_path / name, reader, fp32, max_retries=0, fmt=fmt
        )
    assert seen == [("m.int8.onnx", False), ("m.int8.cpu.onnx", True)]


def test_onnx_runtime_cpu_never_runs_the_tensorrt_file(tmp_path):
    # The TensorRT file is fit (on TensorRT's numerics) and faster; the CPU file failed its gate:
    # CPU must fall back to FP32, not run the TensorRT file through kernels it was not gated on.
    from biogate.exporters.convert.build import CPU_INT8, _choose_cpu_int8

    (tmp_path / CPU_INT8).write_bytes(b"q")
    verdict = {
        "format": "S8S8", "fit": True, "reason": "ok", "metric_int8": 0.9, "metric_drop": 0.0,
        "excluded_nodes": [],
        "_cpu_candidate": {"file": CPU_INT8, "fit": False, "reason": "drop 0.3 exceeds budget"},
    }  # fmt: skip
    latency = {"cpu_fp32": 2.0, "cpu_int8_trt_format": 0.5, "cpu_int8_cpu_format": 1.0}
    metrics = {"int8_cpu": {"metric": 0.6}}
    _choose_cpu_int8(tmp_path, verdict, latency, metrics)
    assert verdict["cpu"]["file"] == CPU_INT8 and verdict["cpu"]["fit"] is False
    assert not (tmp_path / CPU_INT8).exists() and "int8_cpu" not in metrics
