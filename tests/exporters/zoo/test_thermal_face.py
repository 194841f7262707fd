"""The registered thermal_face spec exports to ONNX that matches PyTorch and drives ThermalFace."""

from __future__ import annotations

import numpy as np
import torch

from biogate.capture.radiometry import BlackbodyReference
from biogate.exporters.convert.onnx_export import to_onnx
from biogate.exporters.convert.runners import ort_infer
from biogate.exporters.nets.thermal import PretrainNet, ThermalExport, ThermalFaceNet, prune_first_layer
from biogate.exporters.registry import get
from biogate.frame import Frame
from biogate.models.thermal import ThermalConfig, ThermalFace, crop_face, to_object_celsius
from biogate.sim.thermal import ThermalFaceGenerator

torch.set_num_threads(1)


def test_spec_is_single_channel_and_onnx_matches_torch(tmp_path):
    spec = get("thermal_face")
    assert spec.seed == "002" and spec.inputs[0].shape == (-1, 1, 64, 64)
    assert [o.name for o in spec.outputs] == ["embedding", "temperature"]
    assert spec.metric == "screening_loss" and not spec.higher_is_better
    torch.manual_seed(0)
    pre = PretrainNet(4)
    model = ThermalExport(
        ThermalFaceNet.from_pretrained(pre, prune_first_layer(pre.first, torch.rand(16, 3))[0])
    ).eval()
    path = to_onnx(spec, model, tmp_path / "thermal_face.onnx")
    infer = ort_infer(path)

    s = ThermalFaceGenerator(seed=1).sample(0, 0, with_rgb=False)
    frame = Frame(s.frame_ck, "y16", 5, source="synthetic://thermal", meta=dict(s.meta))
    celsius, _ = to_object_celsius(frame, blackbody=BlackbodyReference(s.blackbody_box, s.blackbody_set_c))
    crops = np.concatenate([crop_face(celsius, s.face_box), crop_face(celsius, (0, 0, 64, 64))])
    out = infer({"thermal": crops})
    with torch.no_grad():
        emb, temp = model(torch.from_numpy(crops))
    assert np.allclose(out["embedding"], emb.numpy(), atol=1e-4)
    assert np.allclose(out["temperature"], temp.numpy(), atol=1e-3)

    cfg = ThermalConfig(blackbody_roi=s.blackbody_box, blackbody_c=s.blackbody_set_c)
    (reading,) = ThermalFace(infer, cfg).measure(frame)
    assert reading.embedding.shape == (64,) and reading.model_c is not None
    assert reading.blackbody_corrected and reading.uncertainty_c < 0.3


def test_from_bundle_reads_calibration_and_keeps_a_site_alarm_threshold(tmp_path):
    import dataclasses

    from biogate.exporters import export

    torch.manual_seed(0)
    pre = PretrainNet(4)
    model = ThermalExport(
        ThermalFaceNet.from_pretrained(pre, prune_first_layer(pre.first, torch.rand(16, 3))[0])
    ).eval()
    rng = np.random.default_rng(0)
    crops = rng.normal(0, 1, (8, 1, 64, 64)).astype(np.float32)

    def evaluate(infer):  # a stand-in metric: this test is about the bundle's thresholds
        out = infer({"thermal": crops})
        mae = float(np.abs(out["temperature"] - 36.8).mean())
        return {"metric": mae, "screening_loss": mae}

    spec = dataclasses.replace(
        get("thermal_face"),
        build=lambda: model,
        evaluate=evaluate,
        calibration_data=lambda n: ({"thermal": crops[i : i + 1]} for i in range(min(n, 8))),
        thresholds={"alarm_c": 37.5, "canthus_offset_c": 0.42, "model_sigma_c": 0.3},
    )
    bundle = export(spec, tmp_path, measure_latency=False)
    tf = ThermalFace.from_bundle(str(bundle.root), providers="cpu", threads=1, require_fit=False)
    assert tf.config.alarm_c == 37.5 and tf.config.canthus_offset_c == 0.42 and tf.config.model_sigma_c == 0.3
    site = ThermalFace.from_bundle(
        str(bundle.root), ThermalConfig(alarm_c=38.0), providers="cpu", threads=1, require_fit=False
    )
    assert site.config.alarm_c == 38.0 and site.config.canthus_offset_c == 0.42
    emb, temp = site.infer(crops[:2])
    assert emb.shape == (2, 64) and temp.shape == (2,)
