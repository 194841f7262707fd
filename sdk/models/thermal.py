"""Thermal face screening (seed 002): identity and body temperature from a radiometric frame.

The measurement chain, in the order a frame goes through it::

    Y16 centi-kelvin ──▶ °C ──▶ blackbody offset (/gain) correction ──▶ emissivity and reflected-
    temperature correction ──▶ face boxes (thermal segmentation, or RGB boxes mapped through a
    calibrated homography) ──▶ per face: canthus-region maximum (model-free) and the network's
    temperature head + identity embedding ──▶ fused body temperature ± uncertainty ──▶ alarm event

The radiometric steps are :mod:`biogate.capture.radiometry`'s (shared with the thermal drivers):
a frame that arrives as ``celsius32`` from a driver configured with a blackbody is taken as
already corrected; a ``y16`` frame is corrected here. Device side: numpy, OpenCV and an
:mod:`biogate.engine` Engine (any ``engine(inputs) -> outputs`` callable); never torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Sequence, Tuple

import cv2
import numpy as np

from ..capture.radiometry import (
    SKIN_EMISSIVITY,
    BlackbodyReference,
    apparent_temperature,
    centikelvin_to_celsius,
    fit_blackbody,
    object_temperature,
)
from ..errors import ConfigError
from ..frame import Frame
from .base import BundleModel

#: Side of the square face crop the network takes (pixels) and its °C normalisation.
CROP_SIZE = 64
CROP_MEAN_C = 33.0
CROP_SCALE_C = 4.0

Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 in thermal-frame pixels
Engine = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]


# ----------------------------------------------------------------------------- radiometric chain
def to_object_celsius(
    frame: Frame,
    emissivity: float = SKIN_EMISSIVITY,
    reflected_c: float | None = None,
    blackbody: BlackbodyReference | Sequence[BlackbodyReference] | None = None,
    blackbody_emissivity: float = 0.99,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The object-temperature map (°C, float32) of a thermal frame and what was done to it.

    ``y16`` frames are centi-kelvin (Lepton TLinear); ``celsius32`` frames come from a driver
    that may already have applied blackbody and emissivity correction (its ``meta`` says so).
    ``blackbody`` is a reference at a known set point, or two at different set points (offset and
    gain); a reference's apparent temperature (what an ε = 1
    camera reads for a ``blackbody_emissivity`` source reflecting the room) is what the sensor
    reading is pulled to, so a slightly grey reference does not bias every face.
    """
    meta = frame.meta or {}
    if reflected_c is None:
        reflected_c = float(meta.get("reflected_c", meta.get("ambient_c", 22.0)))
    facts: dict[str, Any] = {"reflected_c": reflected_c, "blackbody_corrected": False}
    if frame.format == "y16":
        celsius = centikelvin_to_celsius(frame.image)
        driver_emissivity = 1.0
    elif frame.format == "celsius32":
        celsius = np.array(frame.image, dtype=np.float32)
        driver_emissivity = float(meta.get("emissivity", 1.0))
        bb = meta.get("blackbody")
        facts["blackbody_corrected"] = bool(isinstance(bb, dict) and bb.get("ok"))
    else:
        raise ConfigError(
            f"ThermalFace needs a 'y16' or 'celsius32' frame from {frame.source!r}, got {frame.format!r}"
        )
    refs = [blackbody] if isinstance(blackbody, BlackbodyReference) else list(blackbody or [])
    if refs and not facts["blackbody_corrected"]:
        if driver_emissivity != 1.0:
            raise ConfigError(
                f"frame from {frame.source!r} is already emissivity-corrected; "
                "configure the blackbody on the source instead"
            )
        apparent = [
            BlackbodyReference(
                r.roi,
                float(apparent_temperature(np.float32(r.setpoint_c), blackbody_emissivity, reflected_c)),
            )
            for r in refs
        ]
        fit = fit_blackbody(celsius, apparent)
        facts["blackbody"] = fit.as_meta()
        if fit.ok:
            celsius = fit.apply(celsius, out=celsius)
            facts["blackbody_corrected"] = True
    if driver_emissivity == 1.0 and emissivity != 1.0:
        celsius = object_temperature(celsius, emissivity, reflected_c)
    return celsius.astype(np.float32, copy=False), facts


# ----------------------------------------------------------------------------------- face boxes
def find_faces(
    celsius: np.ndarray,
    min_skin_c: float = 30.0,
    above_background_c: float = 4.0,
    min_side_px: int = 16,
    exclude: Sequence[tuple[int, int, int, int]] = (),
) -> list[Box]:
    """Square face boxes from skin-temperature segmentation (largest first).

    Pixels warmer than ``max(min_skin_c, median + above_background_c)`` and below 43 °C are skin
    (faces, necks, ears; hair and clothing stay cooler). Each blob's upper part gives the face:
    the box is 1.15× the blob's typical width, square, starting just above the blob top.
    ``exclude`` masks ``(x, y, w, h)`` regions such as the blackbody.
    """
    thr = max(min_skin_c, float(np.median(celsius)) + above_background_c)
    mask = ((celsius > thr) & (celsius < 43.0)).astype(np.uint8)
    for x, y, w, h in exclude:
        mask[max(y - 2, 0) : y + h + 2, max(x - 2, 0) : x + w + 2] = 0
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes: list[tuple[int, Box]] = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if w < min_side_px or h < min_side_px:
            continue
        blob = labels[y : y + h, x : x + w] == label
        widths = blob.sum(axis=1)
        upper = widths[: max(int(0.7 * h), 1)]
        width = float(np.percentile(upper, 90))
        rows = np.nonzero(upper > 0.5 * width)[0]
        cols = np.nonzero(blob[rows].any(axis=0))[0] if rows.size else np.arange(w)
        cx = x + 0.5 * (cols[0] + cols[-1] + 1)
        side = 1.15 * width
        top = y - 0.05 * side
        boxes.append((area, (cx - side / 2, top, cx + side / 2, top + side)))
    boxes.sort(key=lambda item: -item[0])
    return [b for _, b in boxes]


def calibrate_homography(rgb_points: np.ndarray, thermal_points: np.ndarray) -> np.ndarray:
    """3×3 RGB→thermal homography from ≥ 4 matched points of a planar target (RANSAC).

    Use a heated checkerboard or warm markers at the screening distance: the map is exact for
    that plane and, for cameras on one horizontal line, off by the parallax ``f·b·(1/d − 1/d0)``
    pixels at other distances ``d``.
    """
    src = np.asarray(rgb_points, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(thermal_points, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or src.shape[0] < 4:
        raise ConfigError(f"homography needs >= 4 matched point pairs, got {src.shape[0]} and {dst.shape[0]}")
    matrix, _ = cv2.findHomography(src, dst, cv2.RANSAC, 2.0)
    if matrix is None:
        raise ConfigError("homography calibration failed: the points are degenerate (collinear or repeated)")
    return matrix


def map_boxes(boxes: Sequence[Box], homography: np.ndarray) -> list[Box]:
    """RGB-frame boxes to thermal-frame boxes through ``homography`` (bounding box of the corners)."""
    out: list[Box] = []
    for x0, y0, x1, y1 in boxes:
        corners = np.array([[[x0, y0]], [[x1, y0]], [[x0, y1]], [[x1, y1]]], dtype=np.float64)
        mapped = cv2.perspectiveTransform(corners, np.asarray(homography, dtype=np.float64)).reshape(-1, 2)
        out.append(
            (
                float(mapped[:, 0].min()),
                float(mapped[:, 1].min()),
                float(mapped[:, 0].max()),
                float(mapped[:, 1].max()),
            )
        )
    return out


def crop_face(celsius: np.ndarray, box: Box, size: int = CROP_SIZE) -> np.ndarray:
    """The network input: the square box resampled to ``size``², normalised (°C − 33) / 4, NCHW.

    Pixels outside the frame repeat the border (a face at the frame edge still gets a crop).
    """
    x0, y0, x1, _y1 = box
    scale = size / max(x1 - x0, 1e-3)
    matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], dtype=np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(celsius, matrix, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return ((crop - CROP_MEAN_C) / CROP_SCALE_C).astype(np.float32)[None, None]


def canthus_estimate(celsius: np.ndarray, box: Box) -> tuple[float, tuple[int, int]]:
    """Model-free inner-canthus temperature: the warmest 2×2 spot in the eye band of ``box``.

    The canthus is the warmest facial site and tracks core temperature (ISO/TR 13154); a 2×2
    mean halves the upward bias the maximum of noisy pixels has.  Returns (°C, (x, y)).
    """
    x0, y0, x1, _y1 = box
    side = x1 - x0
    h, w = celsius.shape
    r0, r1 = int(max(y0 + 0.15 * side, 0)), int(min(y0 + 0.6 * side, h))
    c0, c1 = int(max(x0 + 0.15 * side, 0)), int(min(x1 - 0.15 * side, w))
    if r1 - r0 < 2 or c1 - c0 < 2:
        raise ConfigError(f"face box {box} leaves no eye region inside the {w}x{h} frame")
    region = celsius[r0:r1, c0:c1]
    spot = (region[:-1, :-1] + region[1:, :-1] + region[:-1, 1:] + region[1:, 1:]) * 0.25
    iy, ix = np.unravel_index(int(np.argmax(spot)), spot.shape)
    return float(spot[iy, ix]), (c0 + int(ix), r0 + int(iy))


#: Living skin, °C (what a face reads where it is not covered); the canthus must be in it too.
SKIN_C = (30.0, 43.0)
#: Share of the face's central area that must read as skin for the face to count as live: a
#: print or mask with holes (cut-out eyes), or one held over part of the face, leaves most of it
#: at room temperature; glasses (opaque to LWIR) cover about a sixth (issue #16,
#: benchmarks/bench_attacks.py: with the canthus alone, cut-eye masks opened 3 of 5 times).
MIN_SKIN_FRACTION = 0.6


def skin_fraction(celsius: np.ndarray, box: Box, skin_c: tuple[float, float] = SKIN_C) -> float:
    """Share of the central area of ``box`` (cheeks, nose, eyes, forehead) that reads as skin.

    The central area is x 20–80 %, y 15–90 % of the box: inside the face for a box from the RGB
    detector mapped through the homography or from :func:`find_faces`, clear of the background
    at the box's corners. Pixels outside the frame count as not skin (fail closed).
    """
    x0, y0, x1, y1 = (float(v) for v in box)  # Python floats: round() gives an int on every numpy
    w, h = x1 - x0, y1 - y0
    c0, c1 = round(x0 + 0.2 * w), round(x0 + 0.8 * w)
    r0, r1 = round(y0 + 0.15 * h), round(y0 + 0.9 * h)
    total = max(c1 - c0, 0) * max(r1 - r0, 0)
    if total == 0:
        return 0.0
    region = celsius[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)]
    return float(np.count_nonzero((region >= skin_c[0]) & (region <= skin_c[1]))) / total


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
