"""Shared fixtures: tiny ONNX palm models exported from untrained nets (the SDK never sees torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


class OrtEngine:
    """A dict-in/dict-out engine over one ONNX file, the contract of ``biogate.engine``."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.session.get_outputs()]

    def __call__(self, inputs):
        return dict(zip(self.names, self.session.run(None, inputs)))


def _export(net, path: Path, inp: str, out: str, size: int) -> Path:
    import torch

    x = torch.rand(1, 1, size, size)
    torch.onnx.export(
        net.eval(),
        (x,),
        str(path),
        input_names=[inp],
        output_names=[out],
        dynamo=False,
        dynamic_axes={inp: {0: "n", 2: "h", 3: "w"}},
        opset_version=17,
    )
    return path


@pytest.fixture(scope="session")
def palm_onnx(tmp_path_factory):
    """``(sr_engine, liveness_engine)`` of untrained nets: shapes and plumbing, not accuracy."""
    torch = pytest.importorskip("torch")
    from biogate.exporters.nets.palm import PalmLivenessNet, PalmSRCNN, WithSoftmax

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("palm_onnx")
    sr = _export(PalmSRCNN(), root / "sr.onnx", "lr", "sr", 32)
    live = _export(WithSoftmax(PalmLivenessNet()), root / "live.onnx", "image", "prob", 64)
    return OrtEngine(sr), OrtEngine(live)


@pytest.fixture()
def fixed_engine():
    """A liveness engine that answers a fixed P(live) for every image."""

    def make(p_live: float):
        def engine(inputs):
            n = next(iter(inputs.values())).shape[0]
            return {"prob": np.tile(np.array([[1 - p_live, p_live]], np.float32), (n, 1))}

        return engine

    return make
