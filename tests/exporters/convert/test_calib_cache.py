"""TensorRT text calibration cache: writer ↔ parser round trip and malformed input."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from biogate.errors import BundleError
from biogate.exporters.convert.trt.calib_cache import (
    decode_scale,
    encode_scale,
    format_cache,
    parse_cache,
    read_cache,
    write_cache,
)


def test_round_trip_is_exact_in_float32(tmp_path):
    rng = np.random.default_rng(1)
    scales = {
        f"/features/{i}/Relu_output_0": float(np.float32(s)) for i, s in enumerate(rng.uniform(1e-5, 2.0, 40))
    }
    scales["image"] = float(np.float32(4.0 / 127))
    scales["weird:name"] = 0.5
    path = write_cache(tmp_path / "calib.cache", scales, header="TRT-8601-EntropyCalibration2")
    header, parsed = read_cache(path)
    assert header == "TRT-8601-EntropyCalibration2"
    assert parsed == scales


def test_encoding_is_the_float32_bit_pattern():
    assert encode_scale(1.0) == "3f800000"
    assert encode_scale(0.5) == struct.pack(">f", 0.5).hex()
    assert decode_scale("3c010204") == struct.unpack(">f", bytes.fromhex("3c010204"))[0]
    assert decode_scale("0") == 0.0  # TensorRT may drop leading zeros


def test_format_is_header_then_sorted_lines():
    text = format_cache({"b": 1.0, "a": 0.5})
    assert text.splitlines() == ["TRT-8601-EntropyCalibration2", "a: 3f000000", "b: 3f800000"]


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("", "header"),
        ("garbage\na: 3f800000\n", "header"),
        ("TRT-8601-X\nno-colon-here\n", "line 2"),
        ("TRT-8601-X\na: zz\n", "hex"),
    ],
)
def test_malformed_cache_is_a_clear_error(text, what):
    with pytest.raises(BundleError, match=what):
        parse_cache(text)
