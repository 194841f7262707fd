"""``reference_cnn``: a small conv-dense texture classifier, the exporter's own test model.

It classifies 64×64 grey patches into six scikit-image sample images (brick, grass, gravel,
moon, coins, camera).  The data is real and ships with scikit-image, so the model trains,
calibrates and evaluates offline.  Every image is split by columns: patches for training
come from the left 65 %, calibration and evaluation patches from the right 35 % (no overlap),
so the metric is measured on pixels the net never saw.

The net is deliberately *conv-dense* (plain 3×3 convolutions, residual blocks, no depthwise
layers): that is the family where ONNX Runtime's S8S8 QDQ INT8 beats FP32 on x86 CPUs, so the
INT8 speed target is measured on it.  Train it with::

    nice -n 10 .venv/bin/python -m biogate.exporters.zoo.reference_cnn --train

torch is imported only inside functions: importing this module (which ``registry.load_all``
does) stays light.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, register

NAME = "reference_cnn"
CLASSES = ("brick", "grass", "gravel", "moon", "coins", "camera")
PATCH = 64
TRAIN_FRACTION = 0.65
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "reference_cnn.pt"
# (x/255 - 0.5) / 0.25: the normalisation the SDK must apply to raw 8-bit grey pixels.
NORMALIZATION = {"scale": 1 / 255, "mean": [0.5], "std": [0.25]}


@lru_cache(maxsize=1)
def _images() -> tuple[np.ndarray, ...]:
    from skimage import data

    return tuple(np.asarray(getattr(data, name)(), dtype=np.uint8) for name in CLASSES)


def _split(image: np.ndarray, part: str) -> np.ndarray:
    cut = int(image.shape[1] * TRAIN_FRACTION)
    return image[:, :cut] if part == "train" else image[:, cut:]


def normalize(patches_u8: np.ndarray) -> np.ndarray:
    """uint8 ``(N, H, W)`` patches → float32 ``(N, 1, H, W)`` network input."""
    x = patches_u8.astype(np.float32) * NORMALIZATION["scale"]
    return ((x - NORMALIZATION["mean"][0]) / NORMALIZATION["std"][0])[:, None]


def held_out_patches(stride: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Every ``PATCH`` crop on a ``stride`` grid of the held-out columns: (uint8 patches, labels)."""
    patches, labels = [], []
    for label, image in enumerate(_images()):
        part = _split(image, "test")
        for y in range(0, part.shape[0] - PATCH + 1, stride):
            for x in range(0, part.shape[1] - PATCH + 1, stride):
                patches.append(part[y : y + PATCH, x : x + PATCH])
                labels.append(label)
    return np.stack(patches), np.asarray(labels, dtype=np.int64)


def train_patches(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random crops of the training columns with flips and brightness/contrast jitter."""
    images = [_split(im, "train") for im in _images()]
    labels = rng.integers(0, len(images), n)
    out = np.empty((n, PATCH, PATCH), dtype=np.float32)
    for i, label in enumerate(labels):
        im = images[label]
        y = rng.integers(0, im.shape[0] - PATCH + 1)
        x = rng.integers(0, im.shape[1] - PATCH + 1)
        patch = im[y : y + PATCH, x : x + PATCH].astype(np.float32)
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        gain, offset = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
        out[i] = np.clip((patch - patch.mean()) * gain + patch.mean() + offset, 0, 255)
    return out, labels


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """Up to ``n`` real held-out patches, one per dict, spread over all classes."""
    patches, _ = held_out_patches(stride=32)
    order = np.random.default_rng(0).permutation(len(patches))[:n]
    for i in order:
        yield {"image": normalize(patches[i : i + 1])}


def evaluate(infer: InferFn, batch: int = 64) -> dict[str, float]:
    """Top-1 accuracy on every held-out patch (``metric``), through any backend's ``infer``."""
    patches, labels = held_out_patches()
    correct = 0
    for start in range(0, len(patches), batch):
        logits = infer({"image": normalize(patches[start : start + batch])})["logits"]
        correct += int((logits.argmax(axis=1) == labels[start : start + batch]).sum())
    accuracy = correct / len(labels)
    return {"metric": accuracy, "accuracy": accuracy, "samples": float(len(labels))}


def make_net() -> Any:
    """The untrained torch module (ResNet-style, 3×3 convs only)."""
    import torch
    from torch import nn

    def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class Residual(nn.Module):
        def __init__(self, ch: int) -> None:
            super().__init__()
            self.a = conv_bn(ch, ch)
            self.b = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x + self.b(self.a(x)))

    class ReferenceCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                conv_bn(1, 32, 2),  # 32×32
                Residual(32),
                conv_bn(32, 64, 2),  # 16×16
                Residual(64),
                conv_bn(64, 128, 2),  # 8×8
                Residual(128),
            )
            self.head = nn.Linear(128, len(CLASSES))

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(image).mean(dim=(2, 3)))

    return ReferenceCNN()


def build() -> Any:
    """The trained module in eval mode (weights from ``exporters/weights/reference_cnn.pt``)."""
    import torch

    net = make_net()
    net.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return net.eval()


def train(steps: int = 600, batch: int = 32, seed: int = 0, out: Path = WEIGHTS) -> dict[str, float]:
    """Train from scratch with Adam and save the weights; returns the held-out metrics."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(seed)
    net = make_net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    net.train()
    for step in range(steps):
        patches, labels = train_patches(batch, rng)
        x = torch.from_numpy(((patches / 255.0 - 0.5) / 0.25)[:, None].astype(np.float32))
        loss = torch.nn.functional.cross_entropy(net(x), torch.from_numpy(labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    net.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out)
    with torch.no_grad():
        metrics = evaluate(lambda d: {"logits": net(torch.from_numpy(d["image"])).numpy()})
    print(f"held-out accuracy {metrics['accuracy']:.4f} on {int(metrics['samples'])} patches; saved {out}")
    return metrics


def _calibration_hash() -> str:
    patches, labels = held_out_patches(stride=32)
    return hashlib.sha256(patches.tobytes() + labels.tobytes()).hexdigest()[:16]


SPEC = register(
    ModelSpec(
        name=NAME,
        task="classification",
        seed="none",
        build=build,
        inputs=[
            TensorSpec(
                "image", (-1, 1, PATCH, PATCH), layout="NCHW", color="GRAY", normalization=NORMALIZATION
            )
        ],
        outputs=[TensorSpec("logits", (-1, len(CLASSES)), layout="NC")],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="accuracy",
        higher_is_better=True,
        int8_budget=0.01,
        parity_atol=1e-4,
        license="Apache-2.0",
        description=(
            "Reference conv-dense texture classifier (6 scikit-image sample images, 64x64 grey patches), "
            "trained by biogate on the left 65% of each image, evaluated on the held-out right 35%. "
            "Used to test and benchmark the exporter."
        ),
        calibration_description="held-out 64x64 patches of scikit-image brick/grass/gravel/moon/coins/camera",
    )
)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train and overwrite the weights")
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    if args.train:
        train(steps=args.steps)
    else:
        parser.print_help()
