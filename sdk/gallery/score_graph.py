"""The two tiny ONNX graphs the gallery index runs, written as protobuf bytes without ``onnx``.

``onnx`` is a training-side dependency; the device only has ONNX Runtime.  The graphs are one
``MatMulInteger`` node each (opset 10, IR 7), so this module writes the few protobuf fields
they need by hand, in field-number order exactly as protobuf's own serializer does.
``tests/gallery/test_index.py`` rebuilds both with ``onnx.helper`` and compares bytes.

* :func:`tail_scores_model`: ``Y[N,M] = (A[N,D] - 128) @ B[D,M]`` — gallery rows (uint8 codes
  shifted by +128) against M int8 queries; the rows are an input, so no rebuild on enrolment.
* :func:`segment_scores_model`: ``Y[M,N] = (A[M,D] - 128) @ W[D,N]`` — M shifted queries against a
  frozen block of int8 templates held as a constant, which ONNX Runtime pre-packs once for its
  GEMV/GEMM kernels (2–3× faster per row on the build VM than re-packing the rows on every call).
"""

from __future__ import annotations

import struct
from typing import Sequence, Union

# onnx.TensorProto.DataType values
UINT8, INT8, INT32 = 2, 3, 6
Dim = Union[int, str]


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64 are ten-byte two's complement varints
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _tensor_type(elem_type: int, shape: Sequence[Dim]) -> bytes:
    dims = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in shape)
    tensor = _int(1, elem_type) + _bytes(2, dims)  # TypeProto.Tensor: elem_type, shape
    return _bytes(1, tensor)  # TypeProto.tensor_type


def _value_info(name: str, elem_type: int, shape: Sequence[Dim]) -> bytes:
    return _bytes(1, name) + _bytes(2, _tensor_type(elem_type, shape))


def _tensor(name: str, data_type: int, dims: Sequence[int], raw: bytes) -> bytes:
    # TensorProto: dims (1, repeated, unpacked in proto2), data_type (2), name (8), raw_data (9)
    return b"".join(_int(1, d) for d in dims) + _int(2, data_type) + _bytes(8, name) + _bytes(9, raw)


def _model(
    node_inputs: Sequence[str], inits: Sequence[bytes], inputs: Sequence[bytes], output: bytes
) -> bytes:
    node = b"".join(_bytes(1, i) for i in node_inputs) + _bytes(2, "Y") + _bytes(4, "MatMulInteger")
    graph = (
        _bytes(1, node)
        + _bytes(2, "biogate_gallery_scores")
        + b"".join(_bytes(5, t) for t in inits)
        + b"".join(_bytes(11, v) for v in inputs)
        + _bytes(12, output)
    )
    opset = _bytes(1, "") + _int(2, 10)
    return _int(1, 7) + _bytes(2, "biogate") + _bytes(7, graph) + _bytes(8, opset)


_ZERO_POINT = _tensor("zp", UINT8, [], struct.pack("B", 128))


def tail_scores_model() -> bytes:
    """``Y[N,M] = (A[N,D] - 128) @ B[D,M]``, everything but the zero point an input."""
    return _model(
        ["A", "B", "zp"],
        [_ZERO_POINT],
        [_value_info("A", UINT8, ["N", "D"]), _value_info("B", INT8, ["D", "M"])],
        _value_info("Y", INT32, ["N", "M"]),
    )


def segment_scores_model(weights_t: bytes, dim: int, rows: int) -> bytes:
    """``Y[M,rows] = (A[M,dim] - 128) @ W`` with ``W`` the int8 ``(dim, rows)`` bytes, constant."""
    if len(weights_t) != dim * rows:
        raise ValueError(f"segment weights hold {len(weights_t)} bytes, expected {dim}×{rows}")
    return _model(
        ["A", "W", "zp"],
        [_ZERO_POINT, _tensor("W", INT8, [dim, rows], weights_t)],
        [_value_info("A", UINT8, ["M", dim])],
        _value_info("Y", INT32, ["M", rows]),
    )
