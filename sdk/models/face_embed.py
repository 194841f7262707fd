"""Face embedding: align a detected face to dlib's 150x150 chip and run the embedder bundle.

:class:`FaceEmbedder` wraps the ``face_embed_dlib`` bundle (dlib's ResNet converted by this
project).  It returns L2-normalised 128-d embeddings for cosine search in
:mod:`biogate.gallery`, and keeps dlib's raw descriptor for dlib-compatible decisions
(same person when the Euclidean distance is below the bundle's ``thresholds["distance"]``, 0.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Sequence

import numpy as np

from ..errors import ConfigError
from ..frame import to_rgb8
from .align import extract_chip
from .base import BundleModel
from .face_detect import FaceDetection

Infer = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]

CHIP_SIZE = 150
CHIP_PADDING = 0.25


@dataclass
class FaceEmbedding:
    """One face's embedding (unit norm, float32 (128,)), dlib's raw descriptor and the chip it came from."""

    embedding: np.ndarray
    descriptor: np.ndarray
    chip: np.ndarray
    detection: FaceDetection | None = None

    def distance(self, other: FaceEmbedding) -> float:
        """dlib's Euclidean descriptor distance (same person below 0.6)."""
        return float(np.linalg.norm(self.descriptor - other.descriptor))

    def cosine(self, other: FaceEmbedding) -> float:
        """Cosine similarity of the normalised embeddings."""
        return float(np.dot(self.embedding, other.embedding))


class FaceEmbedder(BundleModel):
    """Align + embed.

    Args:
        engine: infer callable with input ``image`` (N, 3, 150, 150) float RGB 0..255 and outputs
            ``descriptor`` and ``embedding`` (N, 128) — an Engine of the ``face_embed_dlib`` bundle.
        thresholds: ``{"cosine": ..., "distance": ...}``; :meth:`from_bundle` takes the bundle's
            (verified and range-checked); dlib's 0.93/0.6 for a bare engine.
        batch: largest batch per engine call.
    """

    ROLE = "embedder"
    TASKS = ("face_embedding",)
    MODEL_OPTIONS = ("thresholds", "batch")

    def __init__(self, engine: Infer, thresholds: dict[str, float] | None = None, batch: int = 16) -> None:
        self.engine = engine
        self.thresholds = dict(thresholds or {"cosine": 0.93, "distance": 0.6})
        self.batch = int(batch)

    @classmethod
    def _from_loaded(cls, loaded: Any, **options: Any) -> FaceEmbedder:
        """The embedder with the bundle's ``cosine`` (required) and ``distance`` thresholds."""
        loaded.bundle.threshold("cosine")  # the gallery decides on it: a bundle without one is refused
        options.setdefault("thresholds", loaded.bundle.thresholds)
        return cls(loaded.engine, **options)

    def chip(self, image: Any, detection: FaceDetection, order: str = "RGB") -> np.ndarray:
        """The aligned 150x150 RGB chip of one detected face (needs its five landmarks)."""
        if detection.landmarks is None:
            raise ConfigError(
                f"the {detection.landmark_scheme or 'detector'} detection has no landmarks; "
                "alignment needs a detector that gives five (MTCNN) or the dlib5 scheme"
            )
        return extract_chip(
            to_rgb8(image, order), detection.landmarks, CHIP_SIZE, CHIP_PADDING, detection.landmark_scheme
        )

    def embed_chips(self, chips: np.ndarray) -> dict[str, np.ndarray]:
        """(N, 150, 150, 3) uint8 RGB chips → ``embedding`` and ``descriptor``, each (N, 128) float32."""
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ConfigError(f"chips must be (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) RGB, got shape {chips.shape}")
        emb: list[np.ndarray] = []
        desc: list[np.ndarray] = []
        for i in range(0, len(chips), self.batch):
            x = np.ascontiguousarray(chips[i : i + self.batch].transpose(0, 3, 1, 2), dtype=np.float32)
            out = self.engine({"image": x})
            d = np.asarray(out["descriptor"], np.float32)
            e = np.asarray(out.get("embedding", d / np.linalg.norm(d, axis=1, keepdims=True)), np.float32)
            emb.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))
            desc.append(d)
        if not emb:
            return {"embedding": np.zeros((0, 128), np.float32), "descriptor": np.zeros((0, 128), np.float32)}
        return {"embedding": np.concatenate(emb), "descriptor": np.concatenate(desc)}

    def embed(
        self, image: Any, detections: Sequence[FaceDetection], order: str = "RGB"
    ) -> list[FaceEmbedding]:
        """Embed every detection of ``image``; ``[]`` for no detections."""
        rgb = to_rgb8(image, order)
        chips = [self.chip(rgb, d) for d in detections]
        if not chips:
            return []
        out = self.embed_chips(np.stack(chips))
        return [
            FaceEmbedding(out["embedding"][i], out["descriptor"][i], chips[i], detections[i])
            for i in range(len(chips))
        ]

    def same_person(self, a: FaceEmbedding, b: FaceEmbedding) -> bool:
        """dlib's decision: descriptor distance below ``thresholds["distance"]``."""
        return a.distance(b) < float(self.thresholds.get("distance", 0.6))


__all__ = ["CHIP_PADDING", "CHIP_SIZE", "FaceEmbedder", "FaceEmbedding"]
