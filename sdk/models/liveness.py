"""Silent face liveness (seed 004): Δ from a model trained on genuine faces only.

The bundle holds only the inference sub-graph — first encoder → face and background decoders →
recombination → second encoder → Δ = mean |z_b − z'_b| (the shipped model divides it by mean |z_b|,
docs/liveness.md). A face whose Δ exceeds the threshold is a presentation attack; Δ equal to the
threshold counts as live (the seed's "otherwise").

::

    from biogate.models import FaceLiveness
    live = FaceLiveness.from_bundle("bundles/face_liveness")
    result = live(frame, box=(x0, y0, x1, y1))     # Frame or BGR/RGB/grey uint8 image
    result.delta, result.is_live, result.threshold

Preprocessing matches training: a square crop round the face box grown by ``margin`` of its side
on every side (edge pixels replicate past the image border), resized to the model input, RGB,
scaled to [-1, 1]. Device side: numpy, OpenCV and an Engine (any ``engine(inputs) -> outputs``
callable); never torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Dict, NamedTuple, Sequence, Tuple

import cv2
import numpy as np

from ..errors import ConfigError
from ..frame import Frame, to_rgb8
from .base import BundleModel

Engine = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]
Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
COLORS = ("bgr", "rgb", "gray")


class LivenessResult(NamedTuple):
    """One face's verdict: the score, the decision and the threshold that made it."""

    delta: float
    is_live: bool
    threshold: float


def square_crop(image: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """Square crop centred on ``box``, side = longest box side × (1 + 2·margin), edges replicated."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ConfigError(f"face box {tuple(box)} is empty; expected x0 < x1 and y0 < y1")
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    left, top, n = round(cx - side / 2), round(cy - side / 2), max(1, round(side))
    h, w = image.shape[:2]
    pad = max(0, -left, -top, left + n - w, top + n - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(image[top + pad : top + pad + n, left + pad : left + pad + n])


def _to_rgb(image: np.ndarray, color: str) -> np.ndarray:
    if color not in COLORS:
        raise ConfigError(f"unknown color {color!r}; valid: {', '.join(COLORS)}")
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ConfigError(f"liveness input must be uint8, got {arr.dtype}")
    return to_rgb8(arr, "BGR" if color == "bgr" else "RGB")


def _from_frame(frame: Frame) -> tuple[np.ndarray, str]:
    if frame.format not in ("bgr8", "rgb8", "gray8"):
        raise ConfigError(
            f"FaceLiveness needs a bgr8, rgb8 or gray8 frame, got {frame.format!r} from {frame.source}"
        )
    return frame.rgb(), "rgb"


class _OrtEngine:
    """Minimal ONNX Runtime engine for a bare ``.onnx`` file (bundles go through biogate.engine)."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        if not Path(path).is_file():
            raise ConfigError(f"no ONNX model at {path}")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(names, inputs)))


class FaceLiveness(BundleModel):
    """Live/spoof decision for face crops from a positive-only Δ model.

    Args:
        engine: ``engine({"image": N×3×S×S float32}) -> {"delta": N}``.
        threshold: Δ above this is an attack (from the bundle's ``thresholds["delta"]``).
        input_size: model input side ``S``.
        margin: crop context per side as a fraction of the face box side (training used 0.25).
    """

    input_name = "image"
    output_name = "delta"
    ROLE = "liveness"
    TASKS = ("liveness",)
    SEEDS = ("004",)
    MODEL_OPTIONS = ("threshold", "margin")

    def __init__(self, engine: Engine, threshold: float, input_size: int = 64, margin: float = 0.25) -> None:
        if not math.isfinite(float(threshold)):
            raise ConfigError(f"liveness threshold must be a finite number, got {threshold!r}")
        if int(input_size) < 4:
            raise ConfigError(f"liveness input_size must be ≥ 4, got {input_size!r}")
        self.engine = engine
        self.threshold = float(threshold)
        self.input_size = int(input_size)
        self.margin = float(margin)

    @classmethod
    def _from_loaded(
        cls, loaded: Any, threshold: float | None = None, margin: float | None = None
    ) -> FaceLiveness:
        """The bundle's ``delta`` threshold, input size and ``crop_margin`` unless given."""
        b = loaded.bundle
        if threshold is None:
            threshold = b.threshold("delta")
        if margin is None:
            margin = b.threshold("crop_margin", 0.25)
        return cls(loaded.engine, threshold, int(b.inputs[0]["shape"][-1]), margin)

    @classmethod
    def from_onnx(
        cls, path: str | Path, threshold: float, input_size: int = 64, threads: int = 1
    ) -> FaceLiveness:
        """Run a bare exported ``.onnx`` (no bundle, no hash check) on ONNX Runtime's CPU provider."""
        return cls(_OrtEngine(path, threads), threshold, input_size)

    def preprocess(self, crops_rgb: Sequence[np.ndarray]) -> np.ndarray:
        """RGB ``uint8`` crops → N×3×S×S float32 in [-1, 1]."""
        s = self.input_size
        batch = np.empty((len(crops_rgb), 3, s, s), dtype=np.float32)
        for i, crop in enumerate(crops_rgb):
            interp = cv2.INTER_AREA if min(crop.shape[:2]) > s else cv2.INTER_CUBIC
            small = cv2.resize(crop, (s, s), interpolation=interp).astype(np.float32)
            batch[i] = (small * (1.0 / 127.5) - 1.0).transpose(2, 0, 1)
        return batch

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """Δ for a preprocessed batch."""
        out = self.engine({self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})
        if self.output_name not in out:
            raise ConfigError(f"liveness engine returned {sorted(out)}, expected {self.output_name!r}")
        return np.asarray(out[self.output_name], dtype=np.float64).reshape(-1)

    def decide(self, delta: float) -> LivenessResult:
        return LivenessResult(float(delta), bool(delta <= self.threshold), self.threshold)

    def predict(
        self,
        image: np.ndarray | Frame,
        boxes: Sequence[Box] | None = None,
        color: str = "bgr",
    ) -> list[LivenessResult]:
        """One result per face box (the whole image is one face crop when ``boxes`` is None)."""
        if isinstance(image, Frame):
            image, color = _from_frame(image)
        rgb = _to_rgb(image, color)
        crops = [rgb] if boxes is None else [square_crop(rgb, b, self.margin) for b in boxes]
        if not crops:
            return []
        return [self.decide(d) for d in self.scores(self.preprocess(crops))]

    def __call__(
        self, image: np.ndarray | Frame, box: Box | None = None, color: str = "bgr"
    ) -> LivenessResult:
        """The verdict for one face (``box`` in image pixels, or the whole image as the crop)."""
        return self.predict(image, None if box is None else [box], color)[0]
