"""Palm bone-joint X-ray liveness (seed 001) on the device: quality check → SR → liveness.

Every stage takes the detector's raw counts or the normalised attenuation image that
:func:`log_attenuation` makes from them (0 = open beam, 1 = ``A_MAX`` attenuation; bone bright).
The models are ONNX bundles (``palm_sr``, ``palm_liveness``) run through :mod:`biogate.engine`;
any callable ``engine(dict) -> dict`` works too, which is how tests inject one.

* :class:`PalmQuality` — asks for a re-scan when the image is not clear (blurred, or no inner
  structure), not complete (hand off the detector) or too noisy (under-exposed).
* :class:`PalmSR` — low-resolution first image → higher-resolution second image.
* :class:`PalmLiveness` — probability of a live palm vs the threshold (default 0.5).
* :class:`PalmScanner` — the chain on a frame, an array or a ``dicom://`` / ``xray-raw://`` source,
  logging each decision with its image for the hard-example loop (:mod:`biogate.models.palm_log`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator

import cv2
import numpy as np

from ..errors import ConfigError, EngineError
from ..frame import Frame
from ..sharpness import sharpness
from .base import BundleModel

#: Attenuation line integral mapped to 1.0 by :func:`log_attenuation` (a thick palm with bone ≈ 3).
A_MAX = 4.0
RECOGNITION_SUCCESS = "RECOGNITION_SUCCESS"
RECOGNITION_ERROR = "RECOGNITION_ERROR"
RESCAN = "RESCAN_ADJUST_PALM"

Engine = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]


def log_attenuation(counts: np.ndarray, i0: float | None = None, a_max: float = A_MAX) -> np.ndarray:
    """Raw linear detector counts → ``clip(ln(I0 / I) / a_max, 0, 1)`` as float32.

    ``i0`` is the open-beam level; by default the 99.5th percentile of the image (the beam around
    the hand), which makes the result independent of tube output and detector gain.
    """
    img = np.asarray(counts)
    if img.ndim != 2:
        raise ConfigError(f"palm image must be 2-D (h, w), got shape {img.shape}")
    img = img.astype(np.float32)
    ref = float(np.percentile(img, 99.5)) if i0 is None else float(i0)
    if ref <= 1.0:
        raise ConfigError("palm image has no open-beam area (all pixels dark): check the detector exposure")
    a = np.log(ref / np.maximum(img, 1.0)) / a_max
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def transmission(x: Frame | np.ndarray) -> np.ndarray:
    """Linear transmission counts (open beam bright) from a Frame or a raw uint16 array.

    ``xray16`` frames follow the capture contract *dense = bright* (``dicom://`` inverts
    MONOCHROME1, ``xray-raw://...&invert=1``), so a frame is inverted back; a bare uint16 array is
    taken as the detector's raw counts as they are.
    """
    if isinstance(x, Frame):
        if x.format != "xray16":
            raise ConfigError(f"{x.source or 'frame'}: palm images must be xray16 frames, got {x.format!r}")
        return np.uint16(65535) - x.image
    arr = np.asarray(x)
    if arr.dtype != np.uint16 or arr.ndim != 2:
        raise ConfigError(f"palm detector counts must be a 2-D uint16 array, got {arr.dtype} {arr.shape}")
    return arr


def _image_of(x: Frame | np.ndarray) -> np.ndarray:
    """Normalised attenuation from a Frame or array (uint16 counts, or float already normalised)."""
    if isinstance(x, Frame):
        return log_attenuation(transmission(x))
    arr = np.asarray(x)
    if arr.dtype == np.uint16:
        return log_attenuation(arr)
    if arr.dtype in (np.float32, np.float64) and arr.ndim == 2:
        return arr.astype(np.float32)
    raise ConfigError(
        f"palm image must be uint16 counts or 2-D float attenuation, got {arr.dtype} {arr.shape}"
    )


def _run(engine: Engine, name: str, x: np.ndarray) -> np.ndarray:
    out = engine({name: x})
    if not out:
        raise EngineError(f"engine returned no outputs for input {name!r}")
    return np.asarray(next(iter(out.values())))


@dataclass
class QualityResult:
    """Why a capture is (not) usable: ``ok`` plus the three measures and the failed checks."""

    ok: bool
    sharpness: float
    centre_offset: float
    coverage: float
    quanta: float
    reasons: list[str] = field(default_factory=list)


class PalmQuality:
    """The seed's "clear and complete" check (§2.1), on the raw counts of the device detector.

    * **clear** — native Laplacian sharpness (``biogate.sharpness``) of the lightly denoised
      attenuation image, rendered to 8 bits relative to the hand's median attenuation, so it is
      independent of hand thickness and exposure; motion blur lowers it.  Objects without inner
      structure (bone-less casts) score low too and are asked to re-scan, which never admits them.
    * **complete** — hand coverage of the frame within ``coverage`` and the hand's centroid within
      ``max_offset`` (fraction of the width) of the centre;
    * **exposed** — open-beam quanta per pixel estimated from the background noise, ≥ ``min_quanta``.
    """

    def __init__(
        self,
        min_sharpness: float = 11.0,
        max_offset: float = 0.12,
        coverage: tuple = (0.15, 0.9),
        min_quanta: float = 1000.0,
    ) -> None:
        self.min_sharpness = min_sharpness
        self.max_offset = max_offset
        self.coverage = coverage
        self.min_quanta = min_quanta

    def __call__(self, counts: Frame | np.ndarray) -> QualityResult:
        raw = transmission(counts)
        a = log_attenuation(raw)
        hand = a > 0.05
        coverage = float(hand.mean())
        if hand.any():
            cx = float(np.average(np.arange(a.shape[1]), weights=hand.sum(axis=0)))
            offset = abs((cx + 0.5) / a.shape[1] - 0.5)
            level = max(float(np.median(a[hand])), 1e-3)
        else:
            offset, level = 1.0, 1.0
        smooth = cv2.GaussianBlur(a, (0, 0), 0.5)
        img8 = np.clip(smooth * (100.0 / level), 0, 255).astype(np.uint8)
        sharp = float(np.sqrt(sharpness(img8, "laplacian")))
        quanta = self._quanta(raw.astype(np.float32), ~hand)
        reasons = []
        if sharp < self.min_sharpness:
            reasons.append("not clear (blurred or no inner structure)")
        if not (self.coverage[0] <= coverage <= self.coverage[1]) or offset > self.max_offset:
            reasons.append("not complete (palm not centred on the detector)")
        if quanta < self.min_quanta:
            reasons.append("under-exposed (too noisy)")
        return QualityResult(not reasons, sharp, offset, coverage, quanta, reasons)

    @staticmethod
    def _quanta(raw: np.ndarray, background: np.ndarray) -> float:
        """Open-beam quanta per pixel ≈ (mean / noise)² from the background's pixel-to-pixel noise."""
        if background.sum() < 16:
            return float("inf")  # no open beam to measure: cannot judge, do not block
        diff = (raw - cv2.blur(raw, (3, 3)))[background] * (9.0 / 8.0)
        sigma = 1.4826 * float(np.median(np.abs(diff - np.median(diff))))
        level = float(np.median(raw[background]))
        return (level / sigma) ** 2 if sigma > 0 else float("inf")


class PalmSR(BundleModel):
    """Super-resolution of the first palm image: ``(h, w)`` attenuation → ``(h·s, w·s)``."""

    input_name = "lr"
    TASKS = ("super_resolution",)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, image: Frame | np.ndarray) -> np.ndarray:
        a = _image_of(image)
        out = _run(self.engine, self.input_name, a[None, None])
        return np.clip(out[0, 0], 0.0, 1.0).astype(np.float32)


@dataclass
class LivenessResult:
    """``score`` is P(live); ``is_live`` is ``score > threshold`` (the seed's rule)."""

    is_live: bool
    score: float
    threshold: float


class PalmLiveness(BundleModel):
    """Live/fake decision on a (super-resolved) palm image; the threshold comes from the bundle."""

    input_name = "image"
    ROLE = "liveness"
    TASKS = ("liveness",)
    SEEDS = ("001",)
    MODEL_OPTIONS = ("threshold",)

    def __init__(self, engine: Engine, threshold: float = 0.5) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"liveness threshold must be in [0, 1], got {threshold}")
        self.engine = engine
        self.threshold = threshold

    @classmethod
    def _from_loaded(cls, loaded: Any, threshold: float | None = None) -> PalmLiveness:
        """The bundle's verified ``thresholds["live"]`` unless ``threshold`` is given."""
        return cls(loaded.engine, loaded.bundle.threshold("live") if threshold is None else threshold)

    def scores(self, images: np.ndarray) -> np.ndarray:
        """P(live) for a batch ``(N, h, w)`` of normalised images."""
        probs = _run(self.engine, self.input_name, np.asarray(images, np.float32)[:, None])
        return probs[:, 1].astype(np.float64)

    def __call__(self, image: Frame | np.ndarray) -> LivenessResult:
        score = float(self.scores(_image_of(image)[None])[0])
        return LivenessResult(score > self.threshold, score, self.threshold)


def _traceable(frame: Frame | None) -> dict[str, Any]:
    """Frame facts that let a reviewer find the original capture (file path, DICOM SOP instance)."""
    meta = frame.meta if frame is not None else {}
    return {k: meta[k] for k in ("path", "sop_instance_uid") if k in meta}


@dataclass
class PalmDecision:
    """One scan's outcome; ``message`` is what the terminal shows (seed step 305)."""

    message: str
    quality: QualityResult
    liveness: LivenessResult | None = None
    log_id: str | None = None
    t_capture: int = 0
    source: str = ""


class PalmScanner:
    """The palm-scanner chain: quality check → SR (optional) → liveness → message, with a decision log.

    Args:
        liveness: the live/fake stage.
        sr: super-resolution stage; ``None`` runs liveness on the raw image (a raw-trained bundle).
        quality: the re-scan check; ``None`` skips it.
        log: a :class:`biogate.models.palm_log.DecisionLog` that keeps each decision with its images.
        identify: optional identity hook run on live palms; returns False to refuse.
    """

    def __init__(
        self,
        liveness: PalmLiveness,
        sr: PalmSR | None = None,
        quality: PalmQuality | None = None,
        log: Any = None,
        identify: Callable[[np.ndarray], bool] | None = None,
    ) -> None:
        self.liveness, self.sr, self.quality, self.log, self.identify = liveness, sr, quality, log, identify

    def process(self, capture: Frame | np.ndarray) -> PalmDecision:
        frame = capture if isinstance(capture, Frame) else None
        raw = transmission(capture)
        t_capture = frame.t_capture if frame else 0
        source = frame.source if frame else ""
        q = self.quality(raw) if self.quality else QualityResult(True, 0.0, 0.0, 0.0, 0.0)
        if not q.ok:
            return PalmDecision(RESCAN, q, t_capture=t_capture, source=source)
        a = log_attenuation(raw)
        second = self.sr(a) if self.sr else a
        live = self.liveness(second)
        message = RECOGNITION_SUCCESS if live.is_live else RECOGNITION_ERROR
        if live.is_live and self.identify is not None and not self.identify(second):
            message = RECOGNITION_ERROR
        log_id = None
        if self.log is not None:
            log_id = self.log.record(
                raw,
                second if self.sr else None,
                live.score,
                live.is_live,
                live.threshold,
                source=source,
                t_capture=t_capture,
                **_traceable(frame),
            )
        return PalmDecision(message, q, live, log_id, t_capture, source)

    def run(self, uri: str, max_frames: int | None = None, **options: Any) -> Iterator[PalmDecision]:
        """Decide on every frame of a ``dicom://`` or ``xray-raw://`` (or any xray16) source."""
        from .. import open_source

        source = open_source(uri, **options)
        try:
            for n, frame in enumerate(source):
                if max_frames is not None and n >= max_frames:
                    break
                yield self.process(frame)
        finally:
            source.close()
