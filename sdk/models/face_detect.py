"""Face detectors behind one interface: boxes, the seed's four quadrilateral vertices, landmarks, scores.

* :class:`MTCNNDetector` — the three-stage MTCNN cascade (image pyramid → P-Net proposals → NMS →
  R-Net refinement → O-Net boxes and five landmarks) over three Engine-backed nets.
* :class:`YoloFaceDetector` — the seed's single-stage detector (this project's own net), which
  predicts a box and the face quadrilateral's four vertices on a grid, trained with 90/180/270°
  rotations so it also finds faces on their side or upside down.

Every detector takes any "infer" callable ``dict[str, ndarray] -> dict[str, ndarray]`` for its
nets — a :func:`biogate.engine.load` Engine in production, a PyTorch function in the exporters'
evaluation — so the device and the training side run the very same post-processing.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Sequence

import cv2
import numpy as np

from ..errors import ConfigError
from ..frame import to_rgb8
from .base import BundleModel
from .detect_ops import apply_regression, box_quads, crop_resize, nms, square

Infer = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]

MTCNN_MEAN = 127.5
MTCNN_SCALE = 1.0 / 128.0

#: The single-stage detector's levels: (stride, anchor side in pixels), and channels per cell.
YOLO_LEVELS: tuple[tuple[int, float], ...] = ((8, 24.0), (16, 72.0))
YOLO_CHANNELS = 13


@dataclass
class FaceDetection:
    """One detected face.

    Attributes:
        box: ``x0, y0, x1, y1`` (float32, exclusive right/bottom edge).
        quad: the face's four vertices, (4, 2) float32, in the face's own orientation: top-left,
            top-right, bottom-right, bottom-left of the upright face (for MTCNN, the box corners).
        score: detector confidence in 0..1.
        landmarks: (5, 2) float32 or ``None``; ``landmark_scheme`` names their order
            (``mtcnn5``: eyes, nose tip, mouth corners; see :mod:`biogate.models.align`).
    """

    box: np.ndarray
    quad: np.ndarray
    score: float
    landmarks: np.ndarray | None = None
    landmark_scheme: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> float:
        """The longer side of the box, in pixels."""
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


class FaceDetector(BundleModel, abc.ABC):
    """Interface: :meth:`detect` returns every face in an image, best score first."""

    name = "face_detector"
    ROLE = "detector"
    TASKS = ("face_detection",)

    @abc.abstractmethod
    def detect(self, image: Any, order: str = "RGB") -> list[FaceDetection]:
        """Faces in ``image`` (array in ``order`` or a :class:`biogate.Frame`); ``[]`` when none."""

    def __call__(self, image: Any, order: str = "RGB") -> list[FaceDetection]:
        return self.detect(image, order)


def _first(outputs: dict[str, np.ndarray], *names: str) -> np.ndarray:
    for name in names:
        if name in outputs:
            return np.asarray(outputs[name])
    raise ConfigError(f"model outputs {sorted(outputs)} lack one of {list(names)}")


def pyramid_scales(height: int, width: int, min_face: float, factor: float, cell: int = 12) -> list[float]:
    """Scales at which a ``cell``-pixel window sees faces from ``min_face`` pixels up to the image size."""
    if min_face < cell / 4 or not 0.1 < factor < 0.95:
        raise ConfigError(
            f"min_face must be >= {cell / 4} and factor in (0.1, 0.95), got {min_face}, {factor}"
        )
    scale = cell / float(min_face)
    side = min(height, width) * scale
    scales: list[float] = []
    while side >= cell:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def pnet_candidates(
    prob: np.ndarray, reg: np.ndarray, scale: float, threshold: float, stride: int = 2, cell: int = 12
) -> np.ndarray:
    """P-Net map → candidate rows ``x0, y0, x1, y1, score, r0..r3`` in input-image pixels.

    ``prob``: (h, w) face probability; ``reg``: (4, h, w).  Output cell (y, x) looks at the
    ``cell``-pixel window at ``stride * (x, y)`` of the image resized by ``scale``.
    """
    ys, xs = np.nonzero(prob >= threshold)
    if ys.size == 0:
        return np.zeros((0, 9), np.float32)
    x0 = stride * xs / scale
    y0 = stride * ys / scale
    x1 = (stride * xs + cell) / scale
    y1 = (stride * ys + cell) / scale
    rows = np.stack([x0, y0, x1, y1, prob[ys, xs]] + [reg[k, ys, xs] for k in range(4)], axis=1)
    return rows.astype(np.float32)


def _normalise(crops: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB → (N, 3, H, W) float32 as MTCNN expects."""
    return ((crops.astype(np.float32) - MTCNN_MEAN) * MTCNN_SCALE).transpose(0, 3, 1, 2).copy()


class MTCNNDetector(FaceDetector):
    """The MTCNN cascade (Zhang et al. 2016) on three nets.

    Args:
        pnet, rnet, onet: infer callables (Engines) with input ``image`` and outputs ``prob``, ``reg``
            (and ``landmarks`` for O-Net).
        min_face: smallest face side to look for, in pixels (20 as published; larger is faster).
        thresholds: face-probability thresholds of the three stages.
        factor: pyramid step.
        nms_thresholds: IoU limits: within a pyramid scale, across scales, after R-Net, after O-Net
            (the last as intersection over the smaller box, as published).
        max_side: images whose longer side exceeds it are downscaled first (boxes are mapped back).
        batch: largest batch sent to R-Net/O-Net at once.
    """

    name = "mtcnn"

    def __init__(
        self,
        pnet: Infer,
        rnet: Infer,
        onet: Infer,
        min_face: float = 20.0,
        thresholds: Sequence[float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        nms_thresholds: Sequence[float] = (0.5, 0.7, 0.7, 0.7),
        max_side: int = 1600,
        batch: int = 64,
    ) -> None:
        if len(thresholds) != 3 or len(nms_thresholds) != 4:
            raise ConfigError("MTCNN needs 3 stage thresholds and 4 NMS thresholds")
        self.pnet, self.rnet, self.onet = pnet, rnet, onet
        self.min_face = float(min_face)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.nms_thresholds = tuple(float(t) for t in nms_thresholds)
        self.max_side = int(max_side)
        self.batch = int(batch)
        pyramid_scales(100, 100, self.min_face, self.factor)  # validates min_face/factor
        self.last_timing: dict[str, float] = {}

    MODEL_OPTIONS = ("min_face", "thresholds", "factor", "nms_thresholds", "max_side", "batch")
    NETS = ("pnet", "rnet", "onet")

    @classmethod
    def from_bundles(
        cls, folder: str | Path, *, require_fit: bool = True, trusted_keys: Any = None, **options: Any
    ) -> MTCNNDetector:
        """Load the ``mtcnn_pnet``, ``mtcnn_rnet``, ``mtcnn_onet`` bundles from ``folder``.

        Each goes through :func:`biogate.models.base.load_bundle` (signature, hashes, fitness as a
        ``detector``); the stage thresholds are the bundles' ``thresholds["face"]`` unless given.
        The class's ``MODEL_OPTIONS`` go to the constructor, the rest to :func:`biogate.engine.load`.
        """
        model_options, engine_options = cls.split_options(options)
        loaded = [
            cls.load(
                Path(folder) / f"mtcnn_{n}",
                require_fit=require_fit,
                trusted_keys=trusted_keys,
                **engine_options,
            )
            for n in cls.NETS
        ]
        model_options.setdefault("thresholds", [item.bundle.threshold("face") for item in loaded])
        model = cls(*(item.engine for item in loaded), **model_options)
        model.attach(loaded)
        return model

    @classmethod
    def from_bundle(cls, bundle: str | Path, **options: Any) -> MTCNNDetector:
        """The cascade is three bundles: ``bundle`` is the folder that holds them (:meth:`from_bundles`)."""
        return cls.from_bundles(bundle, **options)

    # -- stages ------------------------------------------------------------------------
    def _stage1(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        found = []
        for scale in pyramid_scales(h, w, self.min_face, self.factor):
            hs, ws = math.ceil(h * scale), math.ceil(w * scale)
            resized = cv2.resize(img, (ws, hs), interpolation=cv2.INTER_AREA)
            out = self.pnet({"image": _normalise(resized[None])})
            prob, reg = _first(out, "prob")[0, 1], _first(out, "reg")[0]
            cand = pnet_candidates(prob, reg, scale, self.thresholds[0])
            if len(cand):
                found.append(cand[nms(cand[:, :4], cand[:, 4], self.nms_thresholds[0])])
        if not found:
            return np.zeros((0, 5), np.float32)
        cand = np.concatenate(found)
        cand = cand[nms(cand[:, :4], cand[:, 4], self.nms_thresholds[1])]
        boxes = square(apply_regression(cand[:, :4], cand[:, 5:9]))
        return np.concatenate([boxes, cand[:, 4:5]], axis=1)

    def _run_batched(self, net: Infer, crops: np.ndarray) -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {}
        for i in range(0, len(crops), self.batch):
            for k, v in net({"image": _normalise(crops[i : i + self.batch])}).items():
                parts.setdefault(k, []).append(np.asarray(v))
        return {k: np.concatenate(v) for k, v in parts.items()}

    def _stage2(self, img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        out = self._run_batched(self.rnet, crop_resize(img, boxes[:, :4], 24))
        prob, reg = _first(out, "prob")[:, 1], _first(out, "reg")
        keep = prob >= self.thresholds[1]
        boxes, prob, reg = boxes[keep, :4], prob[keep], reg[keep]
        order = nms(boxes, prob, self.nms_thresholds[2])
        boxes = square(apply_regression(boxes[order], reg[order]))
        return np.concatenate([boxes, prob[order, None]], axis=1)

    def _stage3(self, img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = self._run_batched(self.onet, crop_resize(img, boxes[:, :4], 48))
        prob, reg, marks = _first(out, "prob")[:, 1], _first(out, "reg"), _first(out, "landmarks")
        keep = prob >= self.thresholds[2]
        boxes, prob, reg, marks = boxes[keep, :4], prob[keep], reg[keep], marks[keep]
        w = (boxes[:, 2] - boxes[:, 0])[:, None]
        h = (boxes[:, 3] - boxes[:, 1])[:, None]
        points = np.stack([boxes[:, :1] + marks[:, :5] * w, boxes[:, 1:2] + marks[:, 5:] * h], axis=2)
        boxes = apply_regression(boxes, reg)
        order = nms(boxes, prob, self.nms_thresholds[3], mode="min")
        return boxes[order], prob[order], points[order]

    def detect(self, image: Any, order: str = "RGB") -> list[FaceDetection]:
        import time

        img = to_rgb8(image, order)
        shrink = 1.0
        if max(img.shape[:2]) > self.max_side:
            shrink = self.max_side / float(max(img.shape[:2]))
            img = cv2.resize(img, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        t0 = time.perf_counter()
        boxes = self._stage1(img)
        t1 = time.perf_counter()
        if len(boxes):
            boxes = self._stage2(img, boxes)
        t2 = time.perf_counter()
        if not len(boxes):
            self.last_timing = {"pnet_ms": (t1 - t0) * 1e3, "rnet_ms": (t2 - t1) * 1e3, "onet_ms": 0.0}
            return []
        final, scores, points = self._stage3(img, boxes)
        t3 = time.perf_counter()
        self.last_timing = {
            "pnet_ms": (t1 - t0) * 1e3,
            "rnet_ms": (t2 - t1) * 1e3,
            "onet_ms": (t3 - t2) * 1e3,
        }
        final, points = final / shrink, points / shrink
        quads = box_quads(final)
        return [
            FaceDetection(
                box=final[i].astype(np.float32),
                quad=quads[i].astype(np.float32),
                score=float(scores[i]),
                landmarks=points[i].astype(np.float32),
                landmark_scheme="mtcnn5",
            )
            for i in range(len(final))
        ]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def decode_yolo(
    raw: Sequence[np.ndarray], score_threshold: float, levels: Sequence[tuple[int, float]] = YOLO_LEVELS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw per-level maps (13, H, W) → scores (M,), boxes (M, 4) and quads (M, 4, 2) in input pixels."""
    scores, boxes, quads = [], [], []
    for (stride, anchor), p in zip(levels, raw):
        p = np.asarray(p, np.float32)
        if p.ndim != 3 or p.shape[0] != YOLO_CHANNELS:
            raise ConfigError(f"YOLO level output must be ({YOLO_CHANNELS}, H, W), got {p.shape}")
        obj = _sigmoid(p[0])
        ys, xs = np.nonzero(obj >= score_threshold)
        t = p[:, ys, xs]
        cx = (2 * _sigmoid(t[1]) - 0.5 + xs) * stride
        cy = (2 * _sigmoid(t[2]) - 0.5 + ys) * stride
        w = (2 * _sigmoid(t[3])) ** 2 * anchor
        h = (2 * _sigmoid(t[4])) ** 2 * anchor
        scores.append(obj[ys, xs])
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1))
        quads.append(np.stack([cx, cy], 1)[:, None, :] + t[5:13].T.reshape(-1, 4, 2) * anchor)
    return (
        np.concatenate(scores),
        np.concatenate(boxes).reshape(-1, 4),
        np.concatenate(quads).reshape(-1, 4, 2),
    )


class YoloFaceDetector(FaceDetector):
    """The seed's single-stage detector: boxes, face quadrilaterals (any of 4 orientations), scores.

    Args:
        engine: infer callable with input ``image`` (N, 3, H, W) RGB/255 and outputs ``p8``, ``p16``
            (the ``face_detect_yolo`` bundle).
        input_size: the image's longer side is resized to this (rounded to a multiple of 32).
        score_threshold, nms_threshold: detection threshold and IoU limit (:meth:`from_bundle`
            takes the bundle's; 0.5 and 0.45 for a bare engine).
    """

    name = "yolo_face"

    def __init__(
        self,
        engine: Infer,
        input_size: int = 640,
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
    ) -> None:
        self.engine = engine
        self.input_size = max(32, round(input_size / 32.0) * 32)
        self.score_threshold = float(0.5 if score_threshold is None else score_threshold)
        self.nms_threshold = float(0.45 if nms_threshold is None else nms_threshold)

    MODEL_OPTIONS = ("input_size", "score_threshold", "nms_threshold")

    @classmethod
    def _from_loaded(cls, loaded: Any, **options: Any) -> YoloFaceDetector:
        """The ``face_detect_yolo`` bundle's ``score``/``nms`` thresholds unless given."""
        options.setdefault("score_threshold", loaded.bundle.threshold("score"))
        options.setdefault("nms_threshold", loaded.bundle.threshold("nms"))
        return cls(loaded.engine, **options)

    def detect(self, image: Any, order: str = "RGB") -> list[FaceDetection]:
        img = to_rgb8(image, order)
        h, w = img.shape[:2]
        scale = self.input_size / float(max(h, w))
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32
        canvas = np.full((ph, pw, 3), 114, np.uint8)  # pad bottom/right with YOLO's grey
        canvas[:nh, :nw] = cv2.resize(
            img, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        x = (canvas.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
        out = self.engine({"image": x})
        scores, boxes, quads = decode_yolo(
            [_first(out, "p8")[0], _first(out, "p16")[0]], self.score_threshold
        )
        keep = nms(boxes, scores, self.nms_threshold)
        boxes, quads, scores = boxes[keep] / scale, quads[keep] / scale, scores[keep]
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        return [
            FaceDetection(
                box=boxes[i].astype(np.float32), quad=quads[i].astype(np.float32), score=float(scores[i])
            )
            for i in range(len(scores))
        ]


__all__ = [
    "YOLO_CHANNELS",
    "YOLO_LEVELS",
    "FaceDetection",
    "FaceDetector",
    "MTCNNDetector",
    "YoloFaceDetector",
    "decode_yolo",
    "pnet_candidates",
    "pyramid_scales",
]
