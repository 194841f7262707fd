"""The generator: renders a person's capture as a Y16 thermal frame, a paired RGB image and truth."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import ConfigError
from .face import (
    Capture,
    Identity,
    _ellipse,
    _face_coords,
    _gauss,
    _layout,
    _regions,
    _skin_targets,
    make_identity,
    thermal_scene,
)
from .physics import (
    AMBIENT_BANDS,
    CameraConfig,
    GeneratorConfig,
    _pixel_grid,
    _sensor_state,
    expose,
)


@dataclass
class ThermalSample:
    """One generated frame and its ground truth (temperatures in °C, boxes as x0, y0, x1, y1)."""

    frame_ck: np.ndarray  # (H, W) uint16 centi-kelvin, the sensor's Y16 output
    rgb: np.ndarray | None  # (h, w, 3) uint8 RGB from the side camera, or None
    identity: int
    core_c: float
    skin_c: float  # inner-canthus skin temperature (the screening site)
    ambient_c: float
    distance_m: float
    face_box: tuple[float, float, float, float]  # in the thermal frame
    face_box_rgb: tuple[float, float, float, float]
    canthi_px: np.ndarray  # (2, 2) thermal-frame pixel positions of the inner canthi
    blackbody_box: tuple[int, int, int, int]  # (x, y, w, h) uniform ROI of the reference
    blackbody_set_c: float
    meta: dict = field(default_factory=dict)


class ThermalFaceGenerator:
    """Deterministic population of synthetic people and their radiometric captures.

    Args:
        seed: population seed; identities and frames are functions of (seed, index) only.
        config: physical parameters (defaults documented in docs/thermal.md).
        split: ``"train"`` or ``"heldout"``: picks the ambient bands and the sensor units.
    """

    def __init__(self, seed: int = 0, config: GeneratorConfig | None = None, split: str = "train") -> None:
        if split not in AMBIENT_BANDS:
            raise ConfigError(f"unknown split {split!r}; valid: {', '.join(AMBIENT_BANDS)}")
        self.seed = seed
        self.config = config or GeneratorConfig()
        self.split = split
        self._identities: dict[int, Identity] = {}

    def identity(self, index: int) -> Identity:
        if index not in self._identities:
            self._identities[index] = make_identity(index, self.seed)
        return self._identities[index]

    def draw_capture(self, identity: int, index: int) -> Capture:
        """The conditions of capture ``index`` of person ``identity`` (deterministic)."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, 4, identity, index, 0 if self.split == "train" else 1])
        bands = AMBIENT_BANDS[self.split]
        widths = np.array([b[1] - b[0] for b in bands])
        band = bands[int(rng.choice(len(bands), p=widths / widths.sum()))]
        core = self.identity(identity).baseline_core_c + rng.normal(0, 0.15)
        if rng.random() < cfg.fever_fraction:
            core += rng.uniform(0.6, 2.5)
        n = cfg.n_sensors
        sensor = int(rng.integers(0, n)) + (0 if self.split == "train" else n)
        return Capture(
            core_c=float(core),
            ambient_c=float(rng.uniform(*band)),
            distance_m=float(rng.uniform(*cfg.distance_range_m)),
            yaw=math.radians(rng.uniform(-20, 20)),
            pitch=math.radians(rng.uniform(-10, 10)),
            roll=math.radians(rng.uniform(-8, 8)),
            offset_x_m=float(rng.uniform(-0.08, 0.08)),
            offset_y_m=float(rng.uniform(-0.03, 0.05)),
            sensor=sensor,
            t_since_ffc_s=float(rng.uniform(0, cfg.ffc_period_s)),
            ffc_epoch=int(rng.integers(0, 10_000)),
            light_dir=(float(rng.uniform(-0.7, 0.7)), float(rng.uniform(-0.6, 0.3))),
            acclimation_c=float(rng.normal(0, 0.3)),
            canthus_jitter_c=float(rng.normal(0, 0.05)),
        )

    # -- projections -----------------------------------------------------------------------
    def _project(self, cam: CameraConfig, cap: Capture, u: float, v: float) -> tuple[float, float]:
        """Pixel of face point (u, v) on the head's front surface (the forward of _face_coords)."""
        cr, sr = math.cos(cap.roll), math.sin(cap.roll)
        x1 = u * math.cos(cap.yaw) + 0.08 * math.sin(cap.yaw)
        y1 = v * math.cos(cap.pitch) + 0.08 * math.sin(cap.pitch)
        x_m, y_m = cr * x1 - sr * y1, sr * x1 + cr * y1
        f = cam.focal_px
        return (
            (x_m + cap.offset_x_m - cam.baseline_m) * f / cap.distance_m + cam.width / 2.0,
            (y_m + cap.offset_y_m) * f / cap.distance_m + cam.height / 2.0,
        )

    def face_box(self, cam: CameraConfig, ident: Identity, cap: Capture) -> tuple[float, float, float, float]:
        """Box from the hairline/forehead top to the chin and ear to ear, in ``cam`` pixels."""
        g = ident.geom
        corners = [
            self._project(cam, cap, su * g["head_hw"], sv * g["head_hh"]) for su in (-1, 1) for sv in (-1, 1)
        ]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        return (min(xs), min(ys), max(xs), max(ys))

    # -- rendering -------------------------------------------------------------------------
    def render_thermal(self, ident: Identity, cap: Capture) -> tuple[np.ndarray, dict]:
        """The sensor's Y16 frame (centi-kelvin) and the facts needed for ground truth."""
        cfg = self.config
        cam = cfg.thermal
        ys, xs = _pixel_grid(cam.height, cam.width)
        temp = np.full((cam.height, cam.width), cap.ambient_c)
        eps = np.full_like(temp, cfg.background_emissivity)
        box = self.face_box(cam, ident, cap)
        for grow, detail in ((0.75, False), (0.2, True)):  # body and room first, then the head
            margin = grow * (box[2] - box[0])
            x0, y0 = max(int(box[0] - margin), 0), max(int(box[1] - margin), 0)
            x1 = min(int(box[2] + margin) + 1, cam.width)
            y1 = cam.height if not detail else min(int(box[3] + margin) + 1, cam.height)
            win = (slice(y0, y1), slice(x0, x1))
            temp[win], eps[win] = thermal_scene(
                ident, cap, cam, xs[win], ys[win], detail, cfg.skin_emissivity, cfg.background_emissivity
            )
        # in-scene blackbody: a square emitter at a fixed distance, at its (slightly unstable) set point
        bb_rng = np.random.default_rng([self.seed, 5, cap.sensor, cap.ffc_epoch])
        bb_true = cfg.blackbody_set_c + bb_rng.normal(0, cfg.blackbody_stability_c)
        bb_r = cam.focal_px * cfg.blackbody_half_m / cfg.blackbody_distance_m
        bx, by = cfg.blackbody_center_px
        emitter = (np.abs(xs - bx) <= bb_r) & (np.abs(ys - by) <= bb_r)
        temp[emitter], eps[emitter] = bb_true, cfg.blackbody_emissivity
        dist = np.where(emitter, cfg.blackbody_distance_m, cap.distance_m)
        # sensor: gain error about the shutter temperature, offset + drift since the last FFC, FPN, NETD
        gain, offset, fpn = _sensor_state(cfg, self.seed, cap.sensor, cap.ffc_epoch)
        drift = cfg.drift_c_per_min * (cap.t_since_ffc_s / 60.0) * math.copysign(1.0, gain if gain else 1.0)
        noise_rng = np.random.default_rng(
            [self.seed, 6, ident.index, cap.ffc_epoch, int(cap.t_since_ffc_s * 1e3)]
        )
        sigma = cfg.psf_sigma_px + cfg.defocus_px_per_m * abs(cap.distance_m - cfg.focus_distance_m)
        frame = expose(
            temp,
            eps,
            cap.ambient_c,  # grey body + reflections of the room, then the air path, in radiance
            transmission=np.exp(-cfg.atmosphere_per_m * dist),
            blur_sigma_px=sigma,
            gain_error=gain,
            shutter_c=cap.ambient_c + 8.0,
            offset_c=offset,
            drift_c=drift,
            fpn=fpn,
            noise=noise_rng.normal(0, cfg.netd_c, temp.shape),
        )
        inner = int(bb_r) - 2  # stay clear of the blurred edge: the ROI must be uniform
        bb_box = (int(bx) - inner, int(by) - inner, 2 * inner + 1, 2 * inner + 1)
        facts = {"bb_box": bb_box, "bb_true_c": bb_true, "face_box": box, "sensor_offset_c": offset + drift}
        return frame, facts

    def render_rgb(
        self, ident: Identity, cap: Capture, cam: CameraConfig | None = None, window=None, size=None
    ):
        """RGB image of the same face from the side camera.

        ``window`` (x0, y0, x1, y1 in ``cam`` pixels) and ``size`` (w, h) render just a crop,
        resampled to ``size``; by default the whole frame.
        """
        cam = cam or self.config.rgb
        x0, y0, x1, y1 = window or (0, 0, cam.width, cam.height)
        w, h = size or (int(x1 - x0), int(y1 - y0))
        xs = np.linspace(x0, x1, w, endpoint=False)[None, :] + (x1 - x0) / (2 * w)
        ys = np.linspace(y0, y1, h, endpoint=False)[:, None] + (y1 - y0) / (2 * h)
        xs, ys = np.broadcast_to(xs, (h, w)), np.broadcast_to(ys, (h, w))
        u, v, cos_t = _face_coords(xs, ys, cam, cap, ident.geom)
        reg = _regions(u, v, ident)
        c = {k: np.array(val) for k, val in ident.colors.items()}
        rng = np.random.default_rng([self.seed, 7, ident.index, cap.ffc_epoch])
        img = np.broadcast_to(rng.uniform(0.2, 0.8, 3), (h, w, 3)).copy()
        skin_like = np.maximum(reg["head"], np.maximum(reg["ears"], reg["neck"]))[..., None]
        lx, ly = cap.light_dir
        shade = np.clip(
            0.55
            + 0.45 * (cos_t + lx * u / ident.geom["head_hw"] * 0.6 + ly * v / ident.geom["head_hh"] * 0.6),
            0.2,
            1.2,
        )
        img = img * (1 - skin_like) + skin_like * c["skin"] * shade[..., None]
        img = (
            img * (1 - reg["torso"][..., None] * (1 - skin_like))
            + reg["torso"][..., None] * (1 - skin_like) * c["shirt"]
        )
        for key, colour in (("brows", c["hair"]), ("mouth", c["lips"]), ("hair", c["hair"])):
            m = reg[key][..., None]
            img = img * (1 - m) + m * colour * shade[..., None]
        eyes = reg["eyes"][..., None]
        img = img * (1 - eyes) + eyes * np.array([0.9, 0.9, 0.88])
        lay = _layout(ident.geom)
        for sx in (-1, 1):
            iris = _ellipse(u, v, sx * ident.geom["eye_dx"], lay["eye_y"], 0.0055, 0.0055)[..., None] * eyes
            img = img * (1 - iris) + iris * c["iris"]
        nostril = _gauss(u, v, -0.006, lay["nose_tip"] + 0.002, 0.003, 0.002) + _gauss(
            u, v, 0.006, lay["nose_tip"] + 0.002, 0.003, 0.002
        )
        img *= (1 - 0.5 * np.clip(nostril, 0, 1) * reg["head"])[..., None]
        img += rng.normal(0, 0.02, img.shape)
        return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)

    def sample(self, identity: int, index: int, with_rgb: bool = True) -> ThermalSample:
        """Capture ``index`` of person ``identity``: Y16 frame, paired RGB frame and ground truth."""
        ident = self.identity(identity)
        cap = self.draw_capture(identity, index)
        frame, facts = self.render_thermal(ident, cap)
        lay = _layout(ident.geom)
        canthi = np.array(
            [
                self._project(self.config.thermal, cap, sx * lay["canthus_x"], lay["canthus_y"])
                for sx in (-1, 1)
            ]
        )
        tt = _skin_targets(ident, cap)
        rgb_box = self.face_box(self.config.rgb, ident, cap)
        cfg = self.config
        return ThermalSample(
            frame_ck=frame,
            rgb=self.render_rgb(ident, cap) if with_rgb else None,
            identity=identity,
            core_c=cap.core_c,
            skin_c=float(tt["canthus"]),
            ambient_c=cap.ambient_c,
            distance_m=cap.distance_m,
            face_box=facts["face_box"],
            face_box_rgb=rgb_box,
            canthi_px=canthi,
            blackbody_box=facts["bb_box"],
            blackbody_set_c=cfg.blackbody_set_c,
            meta={
                "ambient_c": cap.ambient_c,
                "reflected_c": cap.ambient_c,
                "blackbody_true_c": facts["bb_true_c"],
                "sensor": cap.sensor,
                "sensor_offset_c": facts["sensor_offset_c"],
                "t_since_ffc_s": cap.t_since_ffc_s,
                "ffc_in_progress": cap.t_since_ffc_s < cfg.ffc_freeze_s,
            },
        )
