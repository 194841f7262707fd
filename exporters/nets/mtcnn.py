"""MTCNN's three networks (Zhang et al. 2016, "Joint Face Detection and Alignment using MTCNN").

P-Net (fully convolutional, 12x12 receptive field), R-Net (24x24) and O-Net (48x48, adds five
landmarks).  Weights: the MIT-licensed ``facenet_pytorch/data/{pnet,rnet,onet}.pt`` state dicts
(themselves converted from the original Caffe release).  Parameter names here match those files
so they load directly; the files are found by :mod:`biogate.exporters.data.weight_packages`
(installed with ``--no-deps``, or fetched once into the cache), never imported, because importing
``facenet_pytorch`` needs torchvision, which cannot be installed on the build machines.

Input of every net: RGB, NCHW, ``(pixel - 127.5) / 128``.  Outputs: softmax face probability
``prob`` (channel 1 is "face"), box regression ``reg`` (x1, y1, x2, y2 offsets in units of the
box size) and, for O-Net, ``landmarks`` (five x then five y, in units of the box size).

The Caffe-era weights flatten their feature maps in (W, H, C) order, hence the transpose before
each network's first fully connected layer.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from biogate.errors import BundleError

MEAN = 127.5
SCALE = 1.0 / 128.0


def mtcnn_weights_path(name: str) -> Path:
    """``facenet_pytorch/data/<name>.pt``: installed, cached, or fetched once from the registry."""
    from biogate.exporters.data.weight_packages import package_dir

    path = package_dir("facenet_pytorch") / "data" / f"{name}.pt"
    if not path.is_file():
        raise BundleError(f"{path} is not one of facenet-pytorch's MTCNN weights (pnet, rnet, onet)")
    return path


def _flatten_whc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class PNet(nn.Module):
    """Proposal net: any HxW ≥ 12 → ``prob`` (N, 2, h, w), ``reg`` (N, 4, h, w); stride 2, cell 12."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), dim=1), self.conv4_2(x)


class RNet(nn.Module):
    """Refinement net: (N, 3, 24, 24) → ``prob`` (N, 2), ``reg`` (N, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(_flatten_whc(x)))
        return torch.softmax(self.dense5_1(x), dim=1), self.dense5_2(x)


class ONet(nn.Module):
    """Output net: (N, 3, 48, 48) → ``prob`` (N, 2), ``reg`` (N, 4), ``landmarks`` (N, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_flatten_whc(self.prelu4(self.conv4(x)))))
        return torch.softmax(self.dense6_1(x), dim=1), self.dense6_2(x), self.dense6_3(x)


_NETS = {"pnet": PNet, "rnet": RNet, "onet": ONet}


def load_mtcnn_net(name: str) -> nn.Module:
    """``pnet``, ``rnet`` or ``onet`` with facenet-pytorch's weights, in eval mode."""
    if name not in _NETS:
        raise BundleError(f"unknown MTCNN net {name!r}; valid: {', '.join(_NETS)}")
    net = _NETS[name]()
    state = torch.load(mtcnn_weights_path(name), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


__all__ = ["MEAN", "SCALE", "ONet", "PNet", "RNet", "load_mtcnn_net", "mtcnn_weights_path"]
