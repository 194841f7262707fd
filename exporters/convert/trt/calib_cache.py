"""TensorRT's text calibration cache: write it from biogate's ranges, and parse it back.

Format (what ``IInt8Calibrator.write_calibration_cache`` produces)::

    TRT-8601-EntropyCalibration2
    image: 3c010204
    /features/features.0/features.0.2/Relu_output_0: 3d2a8c15

The header names the TensorRT version that wrote it (``8601`` = 8.6.1) and the calibrator;
each line maps a tensor name to its scale (``amax / 127``) as the big-endian hex of the
float32 bit pattern.  biogate writes the scales of its own symmetric INT8 calibration, so a
JetPack without explicit quantization builds implicit INT8 with exactly the ranges the
accuracy gate approved.  TensorRT itself was not available to confirm byte-exact agreement
(see docs/exporters.md).
"""

from __future__ import annotations

import struct
from pathlib import Path

from biogate.errors import BundleError

DEFAULT_HEADER = "TRT-8601-EntropyCalibration2"


def encode_scale(scale: float) -> str:
    """float32 → 8 lowercase hex digits of its big-endian bit pattern."""
    return struct.pack(">f", float(scale)).hex()


def decode_scale(text: str) -> float:
    """Inverse of :func:`encode_scale`; accepts 1–8 hex digits (leading zeros may be dropped)."""
    return struct.unpack(">f", int(text, 16).to_bytes(4, "big"))[0]


def format_cache(scales: dict[str, float], header: str = DEFAULT_HEADER) -> str:
    """The cache text for ``{tensor: scale}`` (sorted for reproducible files)."""
    if not header.startswith("TRT-"):
        raise ValueError(f"calibration cache header must start with 'TRT-', got {header!r}")
    lines = [header]
    for name in sorted(scales):
        # Tensor names may hold ':'; the parser splits on the last ': ', which a hex value never has.
        lines.append(f"{name}: {encode_scale(scales[name])}")
    return "\n".join(lines) + "\n"


def write_cache(path: str | Path, scales: dict[str, float], header: str = DEFAULT_HEADER) -> Path:
    """Write :func:`format_cache` to ``path``."""
    path = Path(path)
    path.write_text(format_cache(scales, header), encoding="ascii")
    return path


def parse_cache(text: str | bytes, source: str = "calibration cache") -> tuple[str, dict[str, float]]:
    """``(header, {tensor: scale})`` from cache text; a malformed line is a :class:`BundleError`."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="strict")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("TRT-"):
        raise BundleError(f"{source}: first line must be a 'TRT-<version>-<calibrator>' header")
    scales: dict[str, float] = {}
    for number, line in enumerate(lines[1:], start=2):
        name, sep, value = line.rpartition(": ")
        if not sep or not name:
            raise BundleError(f"{source}: line {number} is not '<tensor>: <hex scale>': {line!r}")
        try:
            scales[name] = decode_scale(value.strip())
        except (ValueError, OverflowError):
            raise BundleError(f"{source}: line {number} has a bad hex scale {value!r}") from None
    return lines[0], scales


def read_cache(path: str | Path) -> tuple[str, dict[str, float]]:
    """Parse the cache file at ``path``."""
    path = Path(path)
    return parse_cache(path.read_bytes(), source=str(path))


def scales_from_qdq(qdq_path: str | Path) -> dict[str, float]:
    """Per-tensor activation scales of a QDQ model: the input of every per-tensor QuantizeLinear."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(qdq_path))
    inits = {i.name: i for i in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    scales: dict[str, float] = {}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in inits or node.input[1] not in inits:
            continue
        scale = numpy_helper.to_array(inits[node.input[1]])
        if scale.size == 1:
            scales[_fp32_name(node.input[0], outputs)] = float(scale.reshape(()))
    return scales


_RENAMED_OUTPUT = "_QuantizeLinear_Input"


def _fp32_name(name: str, outputs: set[str]) -> str:
    """ORT renames a quantized graph output's producer tensor; TensorRT sees the original name."""
    if name.endswith(_RENAMED_OUTPUT) and name[: -len(_RENAMED_OUTPUT)] in outputs:
        return name[: -len(_RENAMED_OUTPUT)]
    return name


def write_from_qdq(qdq_path: str | Path, cache_path: str | Path, header: str = DEFAULT_HEADER) -> Path:
    """Write the TensorRT cache for the activations a QDQ model quantizes."""
    return write_cache(cache_path, scales_from_qdq(qdq_path), header)
