"""Thermal face screening (seed 002): identity and body temperature from a radiometric frame.

The measurement chain, in the order a frame goes through it::

    Y16 centi-kelvin ──▶ °C ──▶ blackbody offset (/gain) correction ──▶ emissivity and reflected-
    temperature correction ──▶ face boxes (thermal segmentation, or RGB boxes mapped through a
    calibrated homography) ──▶ per face: canthus-region maximum (model-free) and the network's
    temperature head + identity embedding ──▶ fused body temperature ± uncertainty ──▶ alarm event

The model-free steps live in :mod:`biogate.models.thermal_measure` (re-exported here); the
radiometric ones are :mod:`biogate.capture.radiometry`'s (shared with the thermal drivers):
a frame that arrives as ``celsius32`` from a driver configured with a blackbody is taken as
already corrected; a ``y16`` frame is corrected here. Device side: numpy, OpenCV and an
:mod:`biogate.engine` Engine (any ``engine(inputs) -> outputs`` callable); never torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Sequence

import numpy as np

from ..capture.radiometry import (
    SKIN_EMISSIVITY,
    BlackbodyReference,
)
from ..errors import ConfigError
from ..frame import Frame
from .base import BundleModel
from .thermal_measure import (
    CROP_MEAN_C,
    CROP_SCALE_C,
    CROP_SIZE,
    MIN_SKIN_FRACTION,
    SKIN_C,
    Box,
    calibrate_homography,
    canthus_estimate,
    crop_face,
    find_faces,
    map_boxes,
    skin_fraction,
    to_object_celsius,
)

Engine = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]


def canthus_to_core(canthus_c: float, ambient_c: float, side_px: float, config: ThermalConfig) -> float:
    """Core temperature implied by a canthus reading (the calibrated linear model of ThermalConfig)."""
    return (
        canthus_c
        + config.canthus_offset_c
        + config.canthus_ambient_per_c * (ambient_c - 22.0)
        + config.canthus_per_inv_side * (100.0 / max(side_px, 1.0))
    )


# -------------------------------------------------------------------------------- results/events
@dataclass
class TemperatureAlarm:
    """An abnormal-temperature event the pipeline sends to the gate (and to staff)."""

    temperature_c: float
    threshold_c: float
    uncertainty_c: float
    probability_above: float
    box: Box
    identity: str | None
    t_capture: int
    source: str
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "temperature_alarm",
            "temperature_c": round(self.temperature_c, 2),
            "threshold_c": self.threshold_c,
            "uncertainty_c": round(self.uncertainty_c, 2),
            "probability_above": round(self.probability_above, 3),
            "box": [round(v, 1) for v in self.box],
            "identity": self.identity,
            "t_capture": self.t_capture,
            "source": self.source,
            "seq": self.seq,
        }


@dataclass
class FaceReading:
    """One face of one frame: where, who, and how warm (°C) with a 1-σ uncertainty."""

    box: Box
    temperature_c: float
    uncertainty_c: float
    canthus_c: float  # measured inner-canthus skin temperature
    canthus_core_c: float  # the core temperature it implies (calibrated offset)
    canthus_px: tuple[int, int]
    model_c: float | None
    blackbody_corrected: bool
    identity: str | None = None
    similarity: float = 0.0
    embedding: np.ndarray | None = field(default=None, repr=False)
    alarm: TemperatureAlarm | None = None
    skin_fraction: float = 0.0  # share of the face's central area reading as skin (skin_fraction())

    def live(self, canthus_c: tuple[float, float] = SKIN_C) -> bool:
        """Living skin over the face: the canthus in ``canthus_c`` *and* at least
        :data:`MIN_SKIN_FRACTION` of the face's central area in :data:`SKIN_C`. Prints and screens
        sit at room temperature; a print with the eyes cut out, or one held over the lower face,
        shows warm skin at the canthus but not over the face.
        """
        return bool(
            canthus_c[0] <= self.canthus_c <= canthus_c[1] and self.skin_fraction >= MIN_SKIN_FRACTION
        )

    def evidence(self) -> dict[str, Any]:
        """The fields of the pipeline's ``Evidence`` this reading fills (``Evidence(t, **r.evidence())``).

        ``thermal_live``: :meth:`live`.
        """
        return {"face_found": True, "thermal_live": self.live(), "temperature_c": self.temperature_c}


@dataclass
class ThermalConfig:
    """Settings of :class:`ThermalFace` (defaults follow IEC 80601-2-59 practice).

    ``canthus_*``: core ≈ canthus + offset + a·(ambient − 22) + b·(100 / face side px): the
    canthus-to-core gap grows with cold air, and a small far face blurs the canthus peak; fitted
    on the training set (the bundle's thresholds override them). ``model_sigma_c`` and
    ``canthus_sigma_c`` are the validated 1-σ errors that weight the two estimates;
    ``blackbody_sigma_c`` the reference's own uncertainty; ``uncorrected_sigma_c`` what a
    sensor without a reference is worth (Lepton: ±5 °C).
    """

    alarm_c: float = 37.3
    emissivity: float = SKIN_EMISSIVITY
    reflected_c: float | None = None
    blackbody_roi: tuple[int, int, int, int] | None = None
    blackbody_c: float | None = None
    blackbody2_roi: tuple[int, int, int, int] | None = None
    blackbody2_c: float | None = None
    blackbody_emissivity: float = 0.99
    canthus_offset_c: float = 0.5
    canthus_ambient_per_c: float = 0.0
    canthus_per_inv_side: float = 0.0
    model_sigma_c: float = 0.2
    canthus_sigma_c: float = 0.2
    blackbody_sigma_c: float = 0.05
    uncorrected_sigma_c: float = 2.0
    match_threshold: float = 0.5

    def __post_init__(self) -> None:
        for roi, temp in ((self.blackbody_roi, self.blackbody_c), (self.blackbody2_roi, self.blackbody2_c)):
            if (roi is None) != (temp is None):
                raise ConfigError("ThermalConfig: blackbody_roi/blackbody_c (and blackbody2_*) go in pairs")
        if self.blackbody2_roi is not None and self.blackbody_roi is None:
            raise ConfigError("ThermalConfig: blackbody2_* needs blackbody_roi/blackbody_c as well")
        if not 0.0 < self.emissivity <= 1.0:
            raise ConfigError(f"ThermalConfig: emissivity must be in (0, 1], got {self.emissivity}")


#: ThermalConfig fields a bundle's ``thresholds`` set: the model's own calibration. The bundle's
#: ``alarm_c`` is only a default: a site's own ``ThermalConfig(alarm_c=...)`` wins.
CALIBRATION_KEYS = (
    "canthus_offset_c",
    "canthus_ambient_per_c",
    "canthus_per_inv_side",
    "model_sigma_c",
    "canthus_sigma_c",
    "match_threshold",
)


class ThermalFace(BundleModel):
    """Identity and body temperature of every face in a thermal frame.

    Args:
        engine: ``engine({"thermal": crop}) -> {"embedding", "temperature"}`` (a loaded
            :mod:`biogate.engine` bundle), or None for the model-free canthus estimate alone.
        config: :class:`ThermalConfig`.
        gallery: optional :class:`biogate.gallery.Gallery` holding thermal templates; without
            one, :meth:`enroll` keeps a small in-memory gallery.
    """

    def __init__(
        self, engine: Engine | None = None, config: ThermalConfig | None = None, gallery: Any = None
    ) -> None:
        self.engine = engine
        self.config = config or ThermalConfig()
        self.gallery = gallery
        self._gallery: dict[str, np.ndarray] = {}

    ROLE = "thermal"
    TASKS = ("thermal_face_identity_temperature",)
    MODEL_OPTIONS = ("config", "gallery")

    @classmethod
    def from_bundle(  # type: ignore[override]
        cls, bundle: Any, config: ThermalConfig | None = None, gallery: Any = None, **options: Any
    ) -> ThermalFace:
        """Load the ``thermal_face`` bundle; its manifest thresholds fill the calibration fields."""
        return super().from_bundle(bundle, config=config, gallery=gallery, **options)

    @classmethod
    def _from_loaded(
        cls, loaded: Any, config: ThermalConfig | None = None, gallery: Any = None
    ) -> ThermalFace:
        b = loaded.bundle
        if config is None:
            config = ThermalConfig(alarm_c=b.threshold("alarm_c", ThermalConfig.alarm_c))
        for key in CALIBRATION_KEYS:
            if key in b.thresholds:
                setattr(config, key, b.threshold(key))
        return cls(loaded.engine, config, gallery)

    # -- identity -------------------------------------------------------------------------
    def enroll(self, name: str, embeddings: np.ndarray) -> None:
        """Store the mean of one person's L2-normalised thermal embeddings under ``name``."""
        emb = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        mean = emb.mean(axis=0)
        self._gallery[name] = mean / max(float(np.linalg.norm(mean)), 1e-12)

    def identify(self, embedding: np.ndarray) -> tuple[str | None, float]:
        """Best gallery match by cosine similarity; None below ``match_threshold``.

        With a :class:`biogate.gallery.Gallery` of *thermal* templates (this model's 64-d
        embeddings; RGB face templates live in another space) its ``search`` is used instead.
        """
        if self.gallery is not None:
            matches = self.gallery.search(embedding, k=1, threshold=self.config.match_threshold)
            return (matches[0].identity_id, float(matches[0].score)) if matches else (None, 0.0)
        if not self._gallery:
            return None, 0.0
        names = list(self._gallery)
        sims = np.stack([self._gallery[n] for n in names]) @ (
            embedding / max(float(np.linalg.norm(embedding)), 1e-12)
        )
        best = int(np.argmax(sims))
        sim = float(sims[best])
        return (names[best] if sim >= self.config.match_threshold else None), sim

    # -- measurement ----------------------------------------------------------------------
    def references(self) -> list[BlackbodyReference]:
        """The in-scene references this config names (0, 1: offset, or 2: gain and offset)."""
        cfg = self.config
        pairs = ((cfg.blackbody_roi, cfg.blackbody_c), (cfg.blackbody2_roi, cfg.blackbody2_c))
        return [
            BlackbodyReference(roi, float(temp))
            for roi, temp in pairs
            if roi is not None and temp is not None
        ]

    def object_celsius(self, frame: Frame) -> tuple[np.ndarray, dict[str, Any]]:
        """The corrected object-temperature map of ``frame`` (see :func:`to_object_celsius`)."""
        cfg = self.config
        return to_object_celsius(
            frame, cfg.emissivity, cfg.reflected_c, self.references(), cfg.blackbody_emissivity
        )

    def infer(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings, temperatures °C) of a batch of normalised crops through the engine."""
        if self.engine is None:
            raise ConfigError("ThermalFace was built without an engine; load the thermal_face bundle")
        out = self.engine({"thermal": np.ascontiguousarray(crops, dtype=np.float32)})
        return np.asarray(out["embedding"]), np.asarray(out["temperature"]).reshape(-1)

    def measure(
        self,
        frame: Frame,
        boxes: Sequence[Box] | None = None,
        rgb_boxes: Sequence[Box] | None = None,
        homography: np.ndarray | None = None,
    ) -> list[FaceReading]:
        """Readings for every face in ``frame``.

        Boxes come from ``boxes`` (thermal pixels), else ``rgb_boxes`` mapped through
        ``homography``, else thermal skin segmentation. Frames the driver flags as not
        measurable (FFC shutter, settling) give no readings.
        """
        cfg = self.config
        if frame.meta.get("measurable") is False or frame.meta.get("ffc_in_progress"):
            return []
        celsius, facts = self.object_celsius(frame)
        if boxes is None and rgb_boxes is not None:
            if homography is None:
                raise ConfigError("rgb_boxes need the RGB→thermal homography (calibrate_homography)")
            boxes = map_boxes(rgb_boxes, homography)
        if boxes is None:
            exclude = [r.roi for r in self.references()]
            boxes = find_faces(celsius, exclude=exclude)
        boxes = [b for b in boxes if b[2] - b[0] >= 8]
        if not boxes:
            return []
        ambient = float(frame.meta.get("ambient_c", facts["reflected_c"]))
        corrected = bool(facts["blackbody_corrected"])
        embeddings: np.ndarray | None = None
        model_t: np.ndarray | None = None
        if self.engine is not None:
            embeddings, model_t = self.infer(np.concatenate([crop_face(celsius, b) for b in boxes]))
        readings = []
        for i, box in enumerate(boxes):
            canthus_c, where = canthus_estimate(celsius, box)
            canthus_core = canthus_to_core(canthus_c, ambient, box[2] - box[0], cfg)
            model_c = None if model_t is None else float(model_t[i])
            reading = self._fuse(box, canthus_c, canthus_core, where, model_c, corrected)
            reading.skin_fraction = skin_fraction(celsius, box)
            if embeddings is not None:
                reading.embedding = embeddings[i]
                reading.identity, reading.similarity = self.identify(embeddings[i])
            reading.alarm = self._alarm(reading, frame)
            readings.append(reading)
        return readings

    def _fuse(
        self,
        box: Box,
        canthus_c: float,
        canthus_core: float,
        where,
        model_c: float | None,
        corrected: bool,
    ) -> FaceReading:
        """Inverse-variance mean of the two estimates plus the reference's own uncertainty."""
        cfg = self.config
        if model_c is None:
            temp, var = canthus_core, cfg.canthus_sigma_c**2
        else:
            wm, wc = 1.0 / cfg.model_sigma_c**2, 1.0 / cfg.canthus_sigma_c**2
            temp, var = (wm * model_c + wc * canthus_core) / (wm + wc), 1.0 / (wm + wc)
        var += (cfg.blackbody_sigma_c if corrected else cfg.uncorrected_sigma_c) ** 2
        return FaceReading(
            box, float(temp), math.sqrt(var), canthus_c, canthus_core, where, model_c, corrected
        )

    def _alarm(self, reading: FaceReading, frame: Frame) -> TemperatureAlarm | None:
        threshold = self.config.alarm_c
        if reading.temperature_c < threshold:
            return None
        z = (reading.temperature_c - threshold) / max(reading.uncertainty_c, 1e-6)
        prob = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
        return TemperatureAlarm(
            reading.temperature_c,
            threshold,
            reading.uncertainty_c,
            prob,
            reading.box,
            reading.identity,
            frame.t_capture,
            frame.source,
            frame.seq,
        )


__all__ = [
    "CALIBRATION_KEYS",
    "CROP_MEAN_C",
    "CROP_SCALE_C",
    "CROP_SIZE",
    "MIN_SKIN_FRACTION",
    "SKIN_C",
    "Box",
    "Engine",
    "FaceReading",
    "TemperatureAlarm",
    "ThermalConfig",
    "ThermalFace",
    "calibrate_homography",
    "canthus_estimate",
    "canthus_to_core",
    "crop_face",
    "find_faces",
    "map_boxes",
    "skin_fraction",
    "to_object_celsius",
]
