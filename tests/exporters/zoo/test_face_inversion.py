"""The inverse model is a registered model like the others, with the committed weights."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biogate.exporters import registry  # noqa: E402
from biogate.exporters.zoo.face_inversion import NAME, WEIGHTS  # noqa: E402


def test_registered_spec_and_weights() -> None:
    spec = registry.get(NAME)
    assert spec.seed == "003" and spec.metric == "reconstruction_l1" and not spec.higher_is_better
    assert spec.inputs[0].shape == (-1, 128) and spec.outputs[0].shape == (-1, 3, 128, 128)
    assert WEIGHTS.is_file() and WEIGHTS.stat().st_size < 25 * 2**20
    model = spec.build()
    assert not model.training and model.config["embed_dim"] == 128
    e = np.random.default_rng(0).standard_normal((2, 128)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    with torch.no_grad():
        out = model(torch.from_numpy(e)).numpy()
    assert out.shape == (2, 3, 128, 128) and out.min() >= 0 and out.max() <= 1
    # different templates give different faces (the model is not a constant)
    assert np.abs(out[0] - out[1]).mean() > 1e-3
