"""The quarter-turn classifier's trainer: a short real run writes weights the zoo can load."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_a_short_run_writes_weights_and_a_record(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from biogate.exporters.nets.face_orient import FaceOrientNet
    from biogate.exporters.training.train_face_orient import main

    out = tmp_path / "orient.pt"
    argv = ["--steps", "3", "--batch", "8", "--width", "8", "--threads", "1", "--out", str(out)]
    assert main([*argv, "--exclude", "opencv:lena.jpg"]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["config"]["steps"] == 3 and record["config"]["exclude"] == ["opencv:lena.jpg"]
    assert record["data"]["samples_seen"] == 24 and record["data"]["lfw_faces"] == 100
    assert 0.0 <= record["train_accuracy"] <= 1.0
    assert "train_face_orient --steps 3" in record["command"]
    net = FaceOrientNet(8)
    net.load_state_dict(torch.load(out, weights_only=True))
    prob = net.eval()(torch.zeros(2, 3, 24, 24)).detach().numpy()
    assert prob.shape == (2, 4) and np.allclose(prob.sum(1), 1.0, atol=1e-5)
    assert "history" not in capsys.readouterr().out
