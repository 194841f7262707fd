"""Seed 000's face chain — detect → (super-resolve → refine) → align → embed — assembled once.

The kiosk stages, ``biogate identify``, ``biogate enroll``, the demo's enrolment and the tracker's
per-face embedding all run this chain; :class:`FaceChain` is its one assembly:
:meth:`FaceChain.from_bundles` loads the bundles, :meth:`faces` detects (largest first, small
faces dropped), :meth:`enhance` super-resolves (and refines) one face when SR is configured, and
:meth:`embed` aligns and embeds it — on the super-resolved crop with the detection moved into its
pixels when there is one, else on the image. The models are duck-typed (``detect``, ``enhance``,
``embed`` as :class:`~biogate.models.MTCNNDetector`, :class:`~biogate.models.SuperResolver` and
:class:`~biogate.models.FaceEmbedder` have them), so tests can plug in their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError


def _size(face: Any) -> float:
    """The longer side of a face (``FaceDetection.size``, else from its box)."""
    size = getattr(face, "size", None)
    return float(size if size is not None else max(face.box[2] - face.box[0], face.box[3] - face.box[1]))


class FaceChain:
    """Detector, optional super-resolver and refiner, embedder: one face in, one embedding out.

    Args:
        detector: ``detect(image, order) -> [face]``, faces with ``.box`` (x0, y0, x1, y1) or
            ``.size`` (longer side) and landmarks, as :class:`~biogate.models.face_detect.FaceDetection`.
        embedder: ``embed(image, [face], order) -> [FaceEmbedding]``; ``chip``/``embed_chips`` for batches.
        resolver: ``enhance(image, box, landmarks, order) -> EnhancedFace`` (SR), or ``None``.
        refiner: ``refiner(image, landmarks) -> image`` applied to the super-resolved face, or ``None``.
        min_face_px: faces whose shorter box side is below this are ignored (0 keeps all).
    """

    def __init__(
        self,
        detector: Any,
        embedder: Any,
        resolver: Any = None,
        refiner: Any = None,
        min_face_px: float = 0.0,
    ) -> None:
        if refiner is not None and resolver is None:
            raise ConfigError("face refinement refines the super-resolved face: it needs a super-resolver")
        self.detector = detector
        self.embedder = embedder
        self.resolver = resolver
        self.refiner = refiner
        self.min_face_px = float(min_face_px)

    @classmethod
    def from_bundles(
        cls,
        detector: str | Path,
        embedder: str | Path | None = None,
        super_resolution: str | Path | None = None,
        refine: str | Path | None = None,
        min_face_px: float = 0.0,
        face_detector: str = "auto",
        rotate: str = "any",
        **options: Any,
    ) -> FaceChain:
        """Load the chain: ``detector`` is the folder of the detector bundles, chosen by
        ``face_detector``/``rotate`` (:func:`biogate.models.face_detectors.load_face_detector`),
        ``embedder`` the embedder bundle (default ``detector/face_embed_dlib``),
        ``super_resolution``/``refine`` optional bundles. ``min_face`` goes to the detector; every
        other option (``precision``, ``threads``, ``require_fit``, ``trusted_keys``, ...) to every
        model's bundle loader, which names an unknown one."""
        from .face_detectors import load_face_detector
        from .face_embed import FaceEmbedder

        engine = {k: v for k, v in options.items() if k != "min_face"}
        resolver = refiner = None
        if super_resolution:
            from .refine import Refiner
            from .super_resolution import SuperResolver

            resolver = SuperResolver.from_bundle(super_resolution, **engine)
            # MTCNN gives its landmarks in its own order; the refiner fits its face mesh to them.
            refiner = Refiner.from_bundle(refine, scheme="mtcnn5", **engine) if refine else None
        elif refine:
            raise ConfigError("face refinement refines the super-resolved face: give an SR bundle")
        return cls(
            load_face_detector(
                detector, face_detector, rotate, min_face=options.get("min_face", 40.0), **engine
            ),
            FaceEmbedder.from_bundle(embedder or Path(detector) / "face_embed_dlib", **engine),
            resolver,
            refiner,
            min_face_px,
        )

    @property
    def thresholds(self) -> dict[str, float]:
        """The embedder's decision thresholds (``cosine``, ``distance``)."""
        return dict(getattr(self.embedder, "thresholds", {}) or {})

    def faces(self, image: Any, order: str = "RGB") -> list[Any]:
        """Every face at least ``min_face_px`` on its shorter side, largest (longer side) first."""
        found = self.detector.detect(image, order=order)
        if self.min_face_px > 0:
            found = [f for f in found if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= self.min_face_px]
        return sorted(found, key=_size, reverse=True)

    def enhance(self, image: Any, face: Any, order: str = "RGB") -> Any:
        """The super-resolved (and refined) face as an ``EnhancedFace``, or ``None`` without SR."""
        if self.resolver is None:
            return None
        enhanced = self.resolver.enhance(image, face.box, face.landmarks, order=order)
        if self.refiner is not None and enhanced.landmarks is not None:
            enhanced.image = self.refiner(enhanced.image, enhanced.landmarks)
        return enhanced

    def aligned_input(self, image: Any, face: Any, order: str = "RGB", enhanced: Any = None) -> tuple:
        """``(image, face, order)`` the embedder aligns: the enhanced crop with the detection moved
        into it when there is one (with landmarks), else the original."""
        if enhanced is not None and enhanced.landmarks is not None:
            from .super_resolution import detection_in

            return enhanced.image, detection_in(enhanced, face), "RGB"
        return image, face, order

    def embed(self, image: Any, face: Any, order: str = "RGB", enhanced: Any = None) -> Any:
        """Align and embed one face (on ``enhanced`` when given): a ``FaceEmbedding``."""
        source, moved, source_order = self.aligned_input(image, face, order, enhanced)
        return self.embedder.embed(source, [moved], order=source_order)[0]

    def embed_many(self, image: Any, faces: Sequence[Any], order: str = "RGB") -> tuple[np.ndarray, dict]:
        """Enhance (when configured), align and embed ``faces`` of one image in one engine batch.

        Returns the (N, 128) embeddings and the milliseconds spent per step
        (``super_resolution_ms`` when SR is on, ``align_ms``, ``embed_ms``).
        """
        import time

        timing: dict[str, float] = {}
        t = time.perf_counter()
        inputs = [self.aligned_input(image, f, order, self.enhance(image, f, order)) for f in faces]
        if self.resolver is not None:
            timing["super_resolution_ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        chips = np.stack([self.embedder.chip(source, f, o) for source, f, o in inputs])
        timing["align_ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        embeddings = self.embedder.embed_chips(chips)["embedding"]
        timing["embed_ms"] = (time.perf_counter() - t) * 1e3
        return embeddings, timing

    def embed_box(self, frame: Any, box: Sequence[float]) -> np.ndarray:
        """The embedding of the face inside ``box`` (x, y, w, h) of ``frame``: detect there, embed the
        largest (the tracker's ``embed(frame, box)``). ConfigError when no face is in the box."""
        x, y, w, h = (round(v) for v in box)
        rgb = frame.rgb() if hasattr(frame, "rgb") else np.asarray(frame)
        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        found = self.faces(crop, "RGB") if crop.size else []
        if not found:
            raise ConfigError(f"no face inside the box {x},{y},{w},{h}")
        return np.asarray(self.embed(crop, found[0], "RGB").embedding, np.float32)


__all__ = ["FaceChain"]
