"""The kiosk's pipeline stages: sharpness gate → detect → liveness → (SR) → embed → match → thermal.

Each stage does one step and writes what it found into ``work.results`` (a
:class:`~biogate.kiosk.findings.Findings` record); the decision is made
in the sink (:mod:`biogate.kiosk.decide`). Detection, SR and embedding are the steps of one
:class:`biogate.models.FaceChain` (detector, super-resolver, refiner, embedder), shared by the
three stages. Models are duck-typed so a stage can be tested with any object that has the
method it calls:

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

from collections import deque
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..models.face_chain import FaceChain
from ..pipeline.stage import Stage, Work
from ..select import FrameSelector
from ..sharpness import frame_sharpness


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
        work.results.sharpness = scored.score
        if scored.score < self.min_score or scored.score < self.keep_ratio * best:
            return None
        return work


class DetectStage(Stage):
    """Finds faces and keeps the largest: at a kiosk, the person in front of the camera."""

    name = "detect"

    def __init__(self, chain: FaceChain) -> None:
        self.chain = chain

    def process(self, work: Work) -> Work | None:
        faces = self.chain.faces(work.frame.bgr(), order="BGR")
        work.results.faces = faces
        if not faces:
            return None
        work.results.face = faces[0]
        return work


class TrackStage(Stage):
    """Follows faces from frame to frame (:class:`biogate.models.IoUTracker`) and writes the decided
    face's ``track_key``, so the policy's cooldowns tell apart two unknown people instead of
    sharing one "unknown" key.

    Frames without a face never reach this stage, so a pause longer than ``max_gap_ms`` between
    faces (someone left, someone else stepped up) starts new tracks rather than continuing old ones.
    """

    name = "track"
    threaded = False

    def __init__(self, iou_threshold: float = 0.3, max_gap_ms: float = 500.0) -> None:
        from ..models.track import IoUTracker

        self.tracker = IoUTracker(iou_threshold=iou_threshold, min_hits=1, max_age=5)
        self.max_gap_ms = max_gap_ms
        self._last_t: int | None = None

    def process(self, work: Work) -> Work | None:
        r = work.results
        if self._last_t is not None and (work.t_capture - self._last_t) / 1e6 > self.max_gap_ms:
            self.tracker.reset()
        self._last_t = work.t_capture
        boxes = [(f.box[0], f.box[1], f.box[2] - f.box[0], f.box[3] - f.box[1]) for f in r.faces]
        index = next((i for i, f in enumerate(r.faces) if f is r.face), 0)
        for track in self.tracker.update(boxes):
            if track.det_index == index:
                r.track_key = f"track-{track.track_id}"
        return work


class LivenessStage(Stage):
    name = "liveness"
    threaded = False

    def __init__(self, liveness: Any) -> None:
        self.liveness = liveness

    def process(self, work: Work) -> Work | None:
        work.results.liveness = self.liveness(work.frame.bgr(), box=tuple(work.results.face.box))
        return work


class SuperResolveStage(Stage):
    """Seed 000's SR (and refinement) of the detected face, when the chain has a super-resolver."""

    name = "super_resolution"
    threaded = False

    def __init__(self, chain: FaceChain) -> None:
        self.chain = chain

    def process(self, work: Work) -> Work | None:
        work.results.enhanced = self.chain.enhance(work.frame.bgr(), work.results.face, order="BGR")
        return work


class EmbedStage(Stage):
    """Aligns and embeds the face: on the super-resolved crop when there is one."""

    name = "embed"
    threaded = False

    def __init__(self, chain: FaceChain) -> None:
        self.chain = chain

    def process(self, work: Work) -> Work | None:
        face, enhanced = work.results.face, work.results.enhanced
        work.results.embedding = self.chain.embed(work.frame.bgr(), face, "BGR", enhanced).embedding
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
        top = self.gallery.search(work.results.embedding, k=1, threshold=-1.0)
        best = top[0] if top else None
        work.results.match_score = float(best.score) if best else None
        # A threshold stored in the gallery (`biogate gallery threshold --set`) is followed live;
        # it can make the kiosk stricter, never weaker than its checked configuration.
        stored = getattr(self.gallery, "stored_threshold", None)
        threshold = self.threshold if stored is None else max(self.threshold, stored)
        accepted = best is not None and best.score >= threshold
        work.results.identity = best.identity_id if accepted else None
        work.results.name = best.name if accepted else None
        return work


#: Skin-surface temperatures (°C) a living face shows at the inner canthus; paper and screens read
#: near room temperature (a presentation-attack cue that needs no training data).
SKIN_RANGE_C = (30.0, 40.0)


class ThermalStage(Stage):
    """Measures the face's temperature on the thermal frame captured nearest in time to it.

    The thermal camera runs on its own clock, and the RGB frame reaching this stage is older
    than the newest thermal frame by the pipeline's lag, so the stage keeps the thermal frames
    it has read for the last ``max_age_ms`` and takes the one closest to the RGB capture time.
    Also sets ``thermal_live``: True when warm skin is where the face is, False when the thermal
    image shows no warm face there (a printed photo or a screen), None without a frame within
    ``max_age_ms`` of the face.
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
        self._recent: deque = deque(maxlen=64)

    def _nearest(self, t_capture: int) -> Any:
        frame = self.source.read(timeout=0.0)
        if frame is not None:
            self._recent.append(frame)
        horizon = 2 * self.max_age_ms * 1e6  # frames older than this are of no use to any later face
        newest = self._recent[-1].t_capture if self._recent else 0
        while self._recent and newest - self._recent[0].t_capture > horizon:
            self._recent.popleft()
        if not self._recent:
            return None
        best = min(self._recent, key=lambda f: abs(f.t_capture - t_capture))
        return best if abs(best.t_capture - t_capture) / 1e6 <= self.max_age_ms else None

    def process(self, work: Work) -> Work | None:
        last = self._nearest(work.t_capture)
        work.results.temperature_c = None
        work.results.thermal_live = None
        if last is None:
            return work  # no thermal frame close enough in time to this face
        if last.meta.get("measurable") is False or last.meta.get("ffc_in_progress"):
            return work  # shutter closed (FFC): nothing can be concluded from this frame
        if self.homography is not None:
            box = tuple(float(v) for v in work.results.face.box)
            readings = self.thermal.measure(last, rgb_boxes=[box], homography=self.homography)
        else:  # one person at the kiosk: the warmest face the thermal camera sees
            readings = sorted(self.thermal.measure(last), key=lambda r: r.temperature_c)[-1:]
        skin = [r for r in readings if r.live(SKIN_RANGE_C)]  # warm canthus and warm face around it
        work.results.thermal_live = bool(skin)
        if skin:
            work.results.temperature_c = float(skin[0].temperature_c)
            work.results.thermal_reading = skin[0]
        return work

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if callable(close):
            close()


def face_sharpness(work: Work) -> float:
    """Sharpness of the detected face box (for the audit log)."""
    x0, y0, x1, y1 = (round(v) for v in work.results.face.box)
    h, w = work.frame.height, work.frame.width
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x1), min(h, y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    return frame_sharpness(work.frame, roi=(x0, y0, x1 - x0, y1 - y0))
