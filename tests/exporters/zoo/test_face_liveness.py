"""Δ is the same in PyTorch and in the exported ONNX graph; the SDK wrapper decides with it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from biogate.errors import ConfigError
from biogate.exporters.nets.liveness import LivenessConfig, LivenessDelta, LivenessGenerator
from biogate.exporters.zoo import face_liveness
from biogate.frame import Frame
from biogate.models import FaceLiveness

CFG = LivenessConfig(
    input_size=32,
    width=4,
    latent_channels=4,
    deep_channels=4,
    head_channels=4,
    disc_widths=(4, 4, 8, 8, 8, 8),
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[LivenessDelta, Path]:
    torch.manual_seed(0)
    model = LivenessDelta(LivenessGenerator(CFG)).eval()
    path = face_liveness.export_onnx(tmp_path_factory.mktemp("onnx") / "delta.onnx", model, size=32)
    return model, path


def test_only_the_inference_subgraph_is_exported(exported: tuple[LivenessDelta, Path]) -> None:
    _, path = exported
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["delta"]
    ops = [n.op_type for n in graph.node]
    # E1 (9 + both separation convs) + two decoders (2×9) + recombination (2) + E2 (9 + its
    # background conv; z'_f is unused by Δ and pruned); no I_c head, discriminator or identity net.
    assert ops.count("Conv") == (9 + 2) + 2 * 9 + 2 + (9 + 1)
    assert ops.count("Tanh") == 1
    assert "Gemm" not in ops and "MatMul" not in ops  # no discriminator FC


def test_delta_identical_in_torch_and_onnx(exported: tuple[LivenessDelta, Path]) -> None:
    import onnxruntime as ort

    model, path = exported
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(5, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(["delta"], {"image": x})[0]
    assert got.shape == (5,)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6 * float(np.abs(ref).max()))


def test_sdk_wrapper_decides_with_the_onnx_delta(exported: tuple[LivenessDelta, Path]) -> None:
    model, path = exported
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(80, 100, 3), dtype=np.uint8)
    box = (20.0, 10.0, 60.0, 50.0)
    probe = FaceLiveness.from_onnx(path, threshold=0.0, input_size=32)
    delta = probe(image, box=box).delta
    # the same crop through torch gives the same Δ
    crop = probe.preprocess([image[:, :, ::-1][0:60, 10:70]])
    with torch.no_grad():
        ref = float(model(torch.from_numpy(crop))[0])
    assert delta == pytest.approx(ref, rel=1e-4)
    live = FaceLiveness.from_onnx(path, threshold=delta, input_size=32)(image, box=box)
    assert live.is_live and live.threshold == delta  # Δ equal to the threshold counts as live
    spoof = FaceLiveness.from_onnx(path, threshold=delta * 0.5, input_size=32)(image, box=box)
    assert not spoof.is_live
    frame = Frame(image=image, format="bgr8", t_capture=0, seq=0, source="test://")
    assert FaceLiveness.from_onnx(path, threshold=1.0, input_size=32)(frame, box=box).delta == pytest.approx(
        delta
    )
    results = probe.predict(image, boxes=[box, (0, 0, 100, 80)])
    assert len(results) == 2 and results[0].delta == pytest.approx(delta)


def test_sdk_wrapper_errors_name_the_fault(exported: tuple[LivenessDelta, Path], tmp_path: Path) -> None:
    _, path = exported
    live = FaceLiveness.from_onnx(path, threshold=0.1, input_size=32)
    with pytest.raises(ConfigError, match="empty"):
        live(np.zeros((10, 10, 3), np.uint8), box=(5, 5, 5, 9))
    with pytest.raises(ConfigError, match="uint8"):
        live(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ConfigError, match="color"):
        live(np.zeros((10, 10, 3), np.uint8), color="hsv")
    with pytest.raises(ConfigError, match="y16"):
        live(Frame(image=np.zeros((4, 4), np.uint16), format="y16", t_capture=0, seq=0, source="t://"))
    with pytest.raises(ConfigError, match=r"missing\.onnx"):
        FaceLiveness.from_onnx(tmp_path / "missing.onnx", threshold=0.1)
    with pytest.raises(ConfigError, match="finite"):
        FaceLiveness(lambda x: x, threshold=float("nan"))


def test_sdk_module_never_imports_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import biogate.models.liveness as m; from biogate.models import FaceLiveness; "
        "assert FaceLiveness is m.FaceLiveness; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_face_liveness_from_a_real_bundle(exported: tuple[LivenessDelta, Path], tmp_path: Path) -> None:
    """export() → bundle with thresholds → FaceLiveness.from_bundle decides like the torch model."""
    from biogate.exporters import export
    from biogate.exporters.registry import ModelSpec, TensorSpec

    model, _ = exported
    rng = np.random.default_rng(5)
    samples = [rng.uniform(-1, 1, size=(1, 3, 32, 32)).astype(np.float32) for _ in range(4)]
    spec = ModelSpec(
        name="face_liveness_test",
        task="liveness",
        seed="004",
        build=lambda: model,
        inputs=[TensorSpec("image", (-1, 3, 32, 32), color="RGB", normalization=face_liveness.NORMALIZATION)],
        outputs=[TensorSpec("delta", (-1,), layout="N")],
        calibration_data=lambda n: ({"image": s} for s in samples[:n]),
        evaluate=lambda infer: {"metric": 0.0},
        metric="acer",
        higher_is_better=False,
        thresholds={"delta": 0.5, "crop_margin": 0.25},
    )
    bundle = export(spec, tmp_path, int8=False, measure_latency=False, parity_samples=4)
    live = FaceLiveness.from_bundle(bundle, threads=1, require_fit=False)  # a stand-in evaluation
    assert live.threshold == 0.5 and live.input_size == 32 and live.margin == 0.25
    image = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    result = live(image, color="rgb")
    with torch.no_grad():
        ref = float(model(torch.from_numpy(live.preprocess([image])))[0])
    assert result.delta == pytest.approx(ref, rel=1e-4)
    assert result.is_live == (ref <= 0.5)
    assert (
        FaceLiveness.from_bundle(bundle, threshold=ref / 2, threads=1, require_fit=False)(
            image, color="rgb"
        ).is_live
        is False
    )


def test_relative_delta_identical_in_torch_and_onnx(tmp_path: Path) -> None:
    """The scale-invariant Δ form exports with the same sub-graph plus one division."""
    import onnxruntime as ort

    torch.manual_seed(3)
    model = LivenessDelta(LivenessGenerator(replace(CFG, delta_norm="relative"))).eval()
    path = face_liveness.export_onnx(tmp_path / "rel.onnx", model, size=32)
    assert "Div" in [n.op_type for n in onnx.load(str(path)).graph.node]
    x = np.random.default_rng(4).uniform(-1, 1, size=(3, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["delta"], {"image": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6 * float(np.abs(ref).max()))
