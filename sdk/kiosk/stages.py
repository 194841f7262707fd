"""The kiosk's pipeline stages: sharpness gate → detect → liveness → (SR) → embed → match → thermal.

Each stage wraps one device-side model and writes what it found into ``work.results``; the
decision is made in the sink (:mod:`biogate.kiosk.decide`).  Models are duck-typed so a
stage can be tested with any object that has the method it calls:

* detector: ``detect(image, order="BGR") -> list`` of faces with ``.box`` (x0, y0, x1, y1)
  (:class:`biogate.models.MTCNNDetector`);
* liveness: ``liveness(image_bgr, box=box) -> result`` with ``.delta``, ``.is_live``
  (:class:`biogate.models.FaceLiveness`);
* super-resolver: ``enhance(image, box, landmarks, order="BGR") -> EnhancedFace`` (optional; the
  embedder then works on the super-resolved crop) (:class:`biogate.models.SuperResolver`);
* embedder: ``embed(image, [face], order="BGR") -> [FaceEmbedding]`` (:class:`biogate.models.FaceEmbedder`);
* gallery: ``search(embedding, k=1) -> [Match(identity_id, name, score, ...)]``
  (:class:`biogate.gallery.Gallery`);
* thermal: ``measure(frame, rgb_boxes=..., homography=...) -> [FaceReading]``
  (:class:`biogate.models.ThermalFace`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError
from ..pipeline.stage import Stage, Work
from ..select import FrameSelector
from ..sharpness import frame_sharpness


def _image(work: Work) -> np.ndarray:
    frame = work.frame
    if frame.format == "bgr8":
        return frame.image
    import cv2

    if frame.format == "gray8":
        return cv2.cvtColor(frame.image, cv2.COLOR_GRAY2BGR)
    if frame.format == "rgb8":
        return cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
    if frame.format == "nv12":
        return cv2.cvtColor(frame.image, cv2.COLOR_YUV2BGR_NV12)
    if frame.format == "yuyv":
        return cv2.cvtColor(frame.image.reshape(frame.image.shape[0], -1, 2), cv2.COLOR_YUV2BGR_YUYV)
    raise ValueError(f"frame format {frame.format!r} is not a colour camera format")


class SharpnessGate(Stage):
    """Pass a frame only if it is sharp: >= ``keep_ratio`` × the best of the recent window.

    Seed 000's windowed frame selection without its latency: instead of waiting for the window
    to end and taking its best frame, each sampled frame is compared with the window so far,
    so a sharp frame goes on at once and a blurred one (motion, focus hunting) is dropped.
    """

    name = "select"

    def __init__(
        self,
        every: int = 1,
        metric: str = "laplacian",
        window_s: float = 1.0,
        keep_ratio: float = 0.5,
        min_score: float = 0.0,
        step: int = 2,
    ) -> None:
        self._selector = FrameSelector(metric, every=every, window_s=window_s, top_k=1, step=step)
        self.keep_ratio = keep_ratio
        self.min_score = min_score

    def process(self, work: Work) -> Work | None:
        scored = self._selector.push(work.frame)
        if scored is None:
            return None
        best = self._selector.best(1)[0].score
        work.results["sharpness"] = scored.score
        if scored.score < self.min_score or scored.score < self.keep_ratio * best:
            return None
        return work


class DetectStage(Stage):
    """Finds faces and keeps the largest: at a kiosk, the person in front of the camera."""

    name = "detect"

    def __init__(self, detector: Any, min_face_px: int = 40) -> None:
        self.detector = detector
        self.min_face_px = min_face_px

    def process(self, work: Work) -> Work | None:
        faces = [
            f
            for f in self.detector.detect(_image(work), order="BGR")
            if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= self.min_face_px
        ]
        work.results["faces"] = len(faces)
        if not faces:
            return None
        work.results["face"] = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        return work


class LivenessStage(Stage):
    name = "liveness"
    threaded = False

    def __init__(self, liveness: Any) -> None:
        self.liveness = liveness

    def process(self, work: Work) -> Work | None:
        work.results["liveness"] = self.liveness(_image(work), box=tuple(work.results["face"].box))
        return work


class SuperResolveStage(Stage):
    name = "super_resolution"
    threaded = False

    def __init__(self, resolver: Any, refiner: Any = None) -> None:
        self.resolver = resolver
        self.refiner = refiner  # optional seed-000 refinement of the super-resolved face

    def process(self, work: Work) -> Work | None:
        face = work.results["face"]
        enhanced = self.resolver.enhance(_image(work), face.box, face.landmarks, order="BGR")
        if self.refiner is not None and enhanced.landmarks is not None:
            enhanced.image = self.refiner(enhanced.image, enhanced.landmarks)
        work.results["enhanced"] = enhanced
        return work


class EmbedStage(Stage):
    name = "embed"
    threaded = False

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def process(self, work: Work) -> Work | None:
        face = work.results["face"]
        enhanced = work.results.get("enhanced")
        if enhanced is not None and enhanced.landmarks is not None:
            from ..models.super_resolution import detection_in

            # Embed the super-resolved face: the detection moved into the enhanced crop's pixels.
            embedded = self.embedder.embed(enhanced.image, [detection_in(enhanced, face)], order="RGB")
        else:
            embedded = self.embedder.embed(_image(work), [face], order="BGR")
        work.results["embedding"] = embedded[0].embedding
        return work


class MatchStage(Stage):
    name = "match"
    threaded = False

    def __init__(self, gallery: Any, threshold: float) -> None:
        if threshold is None:  # fail closed: no threshold would accept the nearest identity
            raise ConfigError("the match stage needs a cosine threshold")
        self.gallery = gallery
        self.threshold = float(threshold)

    def process(self, work: Work) -> Work | None:
        # Every cosine is >= -1: the best identity whatever its score (the audit logs it).
        top = self.gallery.search(work.results["embedding"], k=1, threshold=-1.0)
        best = top[0] if top else None
        work.results["match_score"] = float(best.score) if best else None
        # A threshold stored in the gallery (`biogate gallery threshold --set`) is followed live;
        # it can make the kiosk stricter, never weaker than its checked configuration.
        stored = getattr(self.gallery, "stored_threshold", None)
        threshold = self.threshold if stored is None else max(self.threshold, stored)
        accepted = best is not None and best.score >= threshold
        work.results["identity"] = best.identity_id if accepted else None
        work.results["name"] = best.name if accepted else None
        return work


#: Skin-surface temperatures (°C) a living face shows at the inner canthus; paper and screens read
#: near room temperature (a presentation-attack cue that needs no training data).
SKIN_RANGE_C = (30.0, 40.0)


class ThermalStage(Stage):
    """Reads the newest thermal frame and measures the face's temperature on it.

    Also sets ``thermal_live``: True when warm skin is where the face is, False when the thermal
    image shows no warm face there (a printed photo or a screen), None without a recent frame.
    """

    name = "thermal"
    threaded = False

    def __init__(
        self, source: Any, thermal: Any, homography: np.ndarray | None = None, max_age_ms: float = 300.0
    ) -> None:
        self.source = source
        self.thermal = thermal
        self.homography = homography
        self.max_age_ms = max_age_ms
        self._last: Any = None

    def process(self, work: Work) -> Work | None:
        frame = self.source.read(timeout=0.0)
        if frame is not None:
            self._last = frame
        last = self._last
        work.results["temperature_c"] = None
        work.results["thermal_live"] = None
        if last is None or abs(work.t_capture - last.t_capture) / 1e6 > self.max_age_ms:
            return work  # no thermal frame close enough in time to this face
        if last.meta.get("measurable") is False or last.meta.get("ffc_in_progress"):
            return work  # shutter closed (FFC): nothing can be concluded from this frame
        if self.homography is not None:
            box = tuple(float(v) for v in work.results["face"].box)
            readings = self.thermal.measure(last, rgb_boxes=[box], homography=self.homography)
        else:  # one person at the kiosk: the warmest face the thermal camera sees
            readings = sorted(self.thermal.measure(last), key=lambda r: r.temperature_c)[-1:]
        skin = [r for r in readings if SKIN_RANGE_C[0] <= r.canthus_c <= SKIN_RANGE_C[1]]
        work.results["thermal_live"] = bool(skin)
        if skin:
            work.results["temperature_c"] = float(skin[0].temperature_c)
            work.results["thermal_reading"] = skin[0]
        return work

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if callable(close):
            close()


def face_sharpness(work: Work) -> float:
    """Sharpness of the detected face box (for the audit log)."""
    x0, y0, x1, y1 = (round(v) for v in work.results["face"].box)
    h, w = work.frame.height, work.frame.width
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x1), min(h, y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    return frame_sharpness(work.frame, roi=(x0, y0, x1 - x0, y1 - y0))
