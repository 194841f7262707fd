"""Reader for dlib's serialized DNN files (``dlib::serialize(net, out)``), without dlib.

dlib writes a network as nested layers: the loss layer, then for every wrapper from the output
inwards a version int (``add_layer``, ``add_tag_layer``, ``add_skip_layer``), then the input
layer, then each layer's *details* from the innermost (first computed) layer outwards, each
followed by the layer's bookkeeping (three bools and gradient/cache tensors).  Tags and skips
carry nothing after their version, so the wiring between layers (which ``add_prev`` adds
to which tag) is not in the file: the caller supplies the architecture and this module returns the
layers in computation order, with their hyper-parameters and weights.

Primitive encodings (dlib/serialize.h):

* integers: one control byte (low nibble = byte count, bit 7 = negative) then little-endian bytes;
* floating point: an integer mantissa then an integer exponent, value ``mantissa * 2**exponent``
  (exponents 32000..32002 mean +inf, -inf, nan);
* strings: integer length then bytes; bools: the ASCII byte ``'1'`` or ``'0'``;
* tensors (dlib/cuda/tensor.h): int version 2, four integer dims (n, k, nr, nc), then
  little-endian float32 data; alias tensors: int version 1 and four dims (their data live in the
  owning layer's ``params`` tensor, packed in declaration order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biogate.errors import BundleError

_INF, _NINF, _NAN = 32000, 32001, 32002


class DlibFormatError(BundleError):
    """The file is not a dlib DNN this reader understands; the message says where and why."""


class _Stream:
    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.pos = 0
        self.name = name

    def fail(self, why: str) -> DlibFormatError:
        return DlibFormatError(f"{self.name}: {why} at byte {self.pos}")

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.fail(f"file ends early (wanted {n} bytes)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent >= _INF:
            return {_INF: float("inf"), _NINF: float("-inf")}.get(exponent, float("nan"))
        return float(np.ldexp(float(mantissa), exponent))

    def str(self) -> str:
        n = self.int()
        if n > 4096:
            raise self.fail(f"implausible string length {n}")
        return self._take(n).decode("latin-1")

    def peek_str(self) -> str | None:
        """The string starting here, or ``None`` when the bytes cannot be one."""
        saved = self.pos
        try:
            n = self.int()
            if not 0 < n < 64 or self.pos + n > len(self.data):
                return None
            text = self.data[self.pos : self.pos + n]
            return text.decode("ascii") if all(32 < b < 127 for b in text) else None
        except DlibFormatError:
            return None
        finally:
            self.pos = saved

    def bool(self) -> bool:
        b = self._take(1)
        if b not in (b"0", b"1"):
            raise self.fail(f"bad bool byte {b!r}")
        return b == b"1"

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise self.fail(f"unsupported tensor version {version}")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        return np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, int, int, int]:
        version = self.int()
        if version != 1:
            raise self.fail(f"unsupported alias_tensor version {version}")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


@dataclass
class DlibLayer:
    """One computational layer in computation order.

    ``kind`` is ``con``, ``affine`` (a ``bn_`` is folded to its inference affine), ``relu``,
    ``max_pool``, ``avg_pool``, ``fc`` or ``add_prev``; ``attrs`` holds hyper-parameters
    (``stride``, ``padding``, ``size``, ``num_filters``, ...) and ``weights`` numpy arrays.
    """

    kind: str
    version: str
    attrs: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    """A parsed network: loss settings, input layer settings and the layers in computation order."""

    loss: dict[str, Any]
    input: dict[str, Any]
    wrapper_versions: list[int]
    layers: list[DlibLayer]


def _read_loss(s: _Stream) -> dict[str, Any]:
    version = s.int()
    if version != 1:
        raise s.fail(f"not a dlib network (add_loss_layer version {version})")
    name = s.str()
    if name == "loss_metric_2":
        return {"type": "loss_metric", "margin": s.float(), "distance_threshold": s.float()}
    if name == "loss_metric_":
        return {"type": "loss_metric", "margin": 0.1, "distance_threshold": 0.75}
    raise s.fail(f"unsupported loss layer {name!r} (only loss_metric is read)")


def _read_input(s: _Stream) -> dict[str, Any]:
    name = s.str()
    if name not in ("input_rgb_image", "input_rgb_image_sized"):
        raise s.fail(f"unsupported input layer {name!r}")
    info: dict[str, Any] = {"type": name, "mean_rgb": [s.float(), s.float(), s.float()]}
    if name == "input_rgb_image_sized":
        info["rows"], info["cols"] = s.int(), s.int()
    return info


def _split_params(params: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    flat = params.reshape(-1)
    out, offset = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(flat[offset : offset + n].reshape(shape).copy())
        offset += n
    return out


def _read_details(s: _Stream) -> DlibLayer:
    version = s.str()
    if version in ("con_4", "con_5", "con_6"):
        params = s.tensor()
        attrs = {"num_filters": s.int(), "kernel": (s.int(), s.int()), "stride": (s.int(), s.int())}
        attrs["padding"] = (s.int(), s.int())
        filt, bias = s.alias(), s.alias()
        for key in ("lr_mult", "wd_mult", "bias_lr_mult", "bias_wd_mult"):
            attrs[key] = s.float()
        attrs["use_bias"] = s.bool() if version != "con_4" else True
        weight, b = _split_params(params, [filt, bias]) if params.size else (np.zeros(filt, np.float32), None)
        weights = {"weight": weight}
        if attrs["use_bias"] and b is not None:
            weights["bias"] = b.reshape(-1)
        return DlibLayer("con", version, attrs, weights)
    if version in ("bn_con2", "bn_fc2"):
        params = s.tensor()
        g_shape, b_shape = s.alias(), s.alias()
        s.tensor(), s.tensor()  # batch means / inverse stds of the last training batch: unused
        running_means, running_vars = s.tensor(), s.tensor()
        attrs = {"num_updates": s.int(), "window": s.int()}
        for key in ("lr_mult", "wd_mult", "bias_lr_mult", "bias_wd_mult"):
            attrs[key] = s.float()
        attrs["eps"] = s.float()
        gamma, beta = _split_params(params, [g_shape, b_shape])
        # dlib's affine_(bn_) conversion: scale = gamma / sqrt(var + eps), shift = beta - scale * mean.
        scale = gamma.reshape(-1) / np.sqrt(running_vars.reshape(-1) + attrs["eps"])
        shift = beta.reshape(-1) - scale * running_means.reshape(-1)
        attrs["mode"] = "conv" if version == "bn_con2" else "fc"
        return DlibLayer(
            "affine", version, attrs, {"scale": scale.astype(np.float32), "shift": shift.astype(np.float32)}
        )
    if version in ("affine_", "affine_2"):
        params = s.tensor()
        g_shape, b_shape = s.alias(), s.alias()
        mode = s.int()
        disabled = s.bool() if version == "affine_2" else False
        gamma, beta = _split_params(params, [g_shape, b_shape])
        attrs = {"mode": "conv" if mode == 0 else "fc", "disabled": disabled}  # dlib: CONV_MODE=0, FC_MODE=1
        return DlibLayer("affine", version, attrs, {"scale": gamma.reshape(-1), "shift": beta.reshape(-1)})
    if version in ("relu_", "relu_2"):
        return DlibLayer("relu", version, {"disabled": s.bool() if version == "relu_2" else False})
    if version in ("max_pool_2", "avg_pool_2"):
        attrs = {"size": (s.int(), s.int()), "stride": (s.int(), s.int()), "padding": (s.int(), s.int())}
        return DlibLayer(version[:-2], version, attrs)
    if version == "add_prev_":
        return DlibLayer("add_prev", version)
    if version in ("fc_2", "fc_3"):
        attrs = {"num_outputs": s.int(), "num_inputs": s.int()}
        params = s.tensor()
        w_shape, b_shape = s.alias(), s.alias()
        attrs["bias_mode"] = s.int()  # 0: FC_HAS_BIAS, 1: FC_NO_BIAS
        for key in ("lr_mult", "wd_mult", "bias_lr_mult", "bias_wd_mult"):
            attrs[key] = s.float()
        if version == "fc_3":
            attrs["use_bias"] = s.bool()
        has_bias = attrs["bias_mode"] == 0 and attrs.get("use_bias", True)
        shapes = [w_shape, b_shape] if has_bias else [w_shape]
        parts = _split_params(params, shapes)
        # params hold W as (num_inputs, num_outputs): y = x @ W.
        weights = {"weight": parts[0].reshape(attrs["num_inputs"], attrs["num_outputs"])}
        if has_bias:
            weights["bias"] = parts[1].reshape(-1)
        return DlibLayer("fc", version, attrs, weights)
    raise s.fail(f"unsupported layer {version!r}")


def read_dlib_network(path: str | Path) -> DlibNetwork:
    """Parse a dlib DNN file (e.g. ``dlib_face_recognition_resnet_model_v1.dat``).

    Raises :class:`DlibFormatError` naming the file and byte offset for anything it cannot read.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DlibFormatError(f"cannot read dlib model {path}: {exc}") from None
    s = _Stream(data, str(path))
    loss = _read_loss(s)
    wrappers: list[int] = []
    while True:
        text = s.peek_str()
        if text is not None and text.startswith("input_"):
            break
        wrappers.append(s.int())
        if len(wrappers) > 100000:
            raise s.fail("no input layer found")
    if not wrappers or wrappers[-1] not in (2, 3):
        raise s.fail("the innermost add_layer has an unsupported version")
    inp = _read_input(s)
    layers: list[DlibLayer] = []
    # Inner add_layer versions in computation order; tags/skips (version 1) carry nothing later.
    outer_versions = [v for v in wrappers[:-1] if v == 2][::-1]
    for i in range(len(outer_versions) + 1):
        layers.append(_read_details(s))
        for _ in range(3):  # setup called, gradient stale, output/gradient disabled
            s.bool()
        s.tensor(), s.tensor()  # x_grad, cached_output
        if i == 0:
            s.tensor()  # grad_final
            if wrappers[-1] == 3:
                s.int()  # sample expansion factor
        else:
            s.tensor()  # params_grad (add_layer version 2)
    if s.pos != len(data):
        raise s.fail(f"{len(data) - s.pos} unread bytes after the last layer")
    return DlibNetwork(loss=loss, input=inp, wrapper_versions=wrappers, layers=layers)


__all__ = ["DlibFormatError", "DlibLayer", "DlibNetwork", "read_dlib_network"]
