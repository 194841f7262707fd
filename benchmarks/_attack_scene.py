"""What the kiosk's two cameras see in ``bench_attacks.py``: genuine visitors, strangers and attacks.

Every presentation is a real photograph of :mod:`biogate.exporters.data.face_data` (augmented
views, as the demo uses them), composed into the room as the demo's walk-up does. An attack is
a species of :data:`biogate.exporters.pad.attacks.ATTACKS` rendered on an *enrolled* person's
photograph (the victim). The thermal camera beside the RGB one sees, where the face is:

* genuine visitors and strangers: skin at core − 1.1 °C (as the demo's walk-up);
* prints (``print_*``): paper at :data:`PAPER_C`, a little above the 22 °C room;
* screen replays (``replay_*``): a display at :data:`SCREEN_C` (a phone or tablet held up for a
  few seconds; a display run warm for long reads higher — see ``warm_screen`` below);
* partial attacks (``cut_eyes``, ``partial_print``): paper, except where the wearer's own face
  shows — the eye holes, or everything above the print's edge — which is warm skin. The wearer
  is a stranger: the RGB image shows *their* eyes / upper face through the print, rendered with
  the same attack parameters and noise (the two renderings differ only in the face behind);
* beyond the simulated threat (only with ``--species``): ``warm_print`` (a print or thin mask at
  skin temperature) and ``warm_screen`` (a display at 33 °C). The thermal skin check cannot
  tell them from a face; they are measured to show that, never counted as "stopped".

The thermal image is the synthetic Lepton scene of ``synthetic://thermal`` (a template head,
not the person's own thermal face); the attack's geometry is mapped onto it by face-relative
position (eye line and chin). That is the main approximation here, stated in docs/security.md.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from biogate.frame import Frame, now_ns

PAPER_C = 22.5  # a print held up at the kiosk (the demo's walk-up uses the same)
SCREEN_C = 26.0  # a phone/tablet display held up for seconds, moderate brightness
WARM_C = 34.5  # a print or mask at skin temperature: beyond what the skin check can see
THERMAL_SEED = 11
SKIN_OFFSET_C = 1.1
FACE_SIDE = 260  # px of the composed face view in the 640x480 frame (as the demo)

#: Species beyond the simulated threat model: name -> (RGB species it shows, surface °C).
EXTRA_SPECIES = {"warm_print": ("print_photo", WARM_C), "warm_screen": ("replay_tone", 33.0)}


def species_names(extra: bool = False) -> list[str]:
    """Every species of ``exporters/pad/attacks.py``, then (``extra``) the beyond-model ones."""
    from biogate.exporters.pad.attacks import attack_names

    return attack_names() + (list(EXTRA_SPECIES) if extra else [])


@dataclass(frozen=True)
class Look:
    """What the thermal camera sees at the face: skin (``surface_c`` None) or a cover, maybe holed."""

    surface_c: float | None = None
    real: str = ""  # "" | "eyes" | "upper": where the wearer's skin shows through the cover
    params: tuple[tuple[str, float], ...] = ()  # the attack's drawn parameters (eye_x, hole, row, ...)


@dataclass(frozen=True)
class Presentation:
    """One walk-up: who stands there, what the kiosk must not (or must) do, and the images."""

    label: str
    kind: str  # "genuine" | "stranger" | "attack"
    identity: str  # whose face the kiosk is shown (the victim, for an attack)
    species: str = ""
    core_c: float = 36.6
    look: Look = Look()
    views: tuple[np.ndarray, ...] = field(default=(), compare=False, repr=False)  # RGB face views


class Faces:
    """The offline photographs, one augmented view per (identity, seed), cached."""

    def __init__(self) -> None:
        from biogate.exporters.kiosk_demo import _faces

        self._samples = _faces()
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    @property
    def identities(self) -> list[str]:
        return sorted(self._samples)

    def view(self, identity: str, seed: int) -> np.ndarray:
        key = (identity, seed)
        if key not in self._cache:
            from biogate.exporters.kiosk_demo import _view

            self._cache[key] = _view(self._samples[identity], seed=seed)
        return self._cache[key]


def _inner(view: np.ndarray) -> tuple[slice, slice]:
    """The face-sized square of a demo view (face box ± a quarter of its side): what a print covers."""
    n = view.shape[0]
    a, b = round(0.155 * n), round(0.845 * n)
    return slice(a, b), slice(a, b)


def real_mask(real: str, params: dict[str, float], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Where the wearer's face shows through a partial attack, at face-crop coordinates (u, v) ∈ [0, 1]."""
    if real == "upper":
        return v < params["row"]
    if real == "eyes":
        hole, ey = params["hole"], params["eye_y"]
        out = np.zeros(np.broadcast(u, v).shape, bool)
        for ex in (params["eye_x"], 1.0 - params["eye_x"]):
            out |= ((u - ex) / hole) ** 2 + ((v - ey) / (0.6 * hole)) ** 2 <= 1.0
        return out
    raise ValueError(f"unknown partial-attack region {real!r}")


def _partial(victim: np.ndarray, wearer: np.ndarray, species: str, seed: int) -> tuple[np.ndarray, Look]:
    """A partial attack worn by a stranger: the victim's print, the wearer's face through it."""
    from biogate.exporters.pad.attacks import ATTACKS, apply_attack

    if wearer.shape != victim.shape:  # photographs differ in size; the print is the victim's
        wearer = cv2.resize(wearer, victim.shape[1::-1], interpolation=cv2.INTER_AREA)
    rows, cols = _inner(victim)
    printed = apply_attack(np.ascontiguousarray(victim[rows, cols]), species, seed)
    own = apply_attack(np.ascontiguousarray(wearer[rows, cols]), species, seed)  # same draws, same noise
    params = ATTACKS[species].sample_params(np.random.default_rng(seed))  # the draws apply_attack made
    real = "eyes" if species == "cut_eyes" else "upper"
    n = printed.shape[0]
    grid = (np.arange(n, dtype=np.float32) + 0.5) / n
    mask = real_mask(real, params, grid[None, :], grid[:, None])
    out = wearer.copy()
    out[rows, cols] = np.where(mask[..., None], own, printed)
    return out, Look(PAPER_C, real, tuple(sorted(params.items())))


def attack_views(
    faces: Faces, victim: str, wearer: str, species: str, seeds: tuple[int, ...]
) -> tuple[tuple[np.ndarray, ...], Look]:
    """The RGB views of ``species`` made from ``victim``'s photographs, and what the thermal camera sees."""
    from biogate.exporters.pad.attacks import ATTACKS, apply_attack

    if species in EXTRA_SPECIES:
        shown, surface = EXTRA_SPECIES[species]
        views = tuple(apply_attack(faces.view(victim, s), shown, seed=7 + s) for s in seeds)
        return views, Look(surface)
    family = ATTACKS[species].family
    if family == "partial":
        made = [_partial(faces.view(victim, s), faces.view(wearer, s + 50), species, 7 + s) for s in seeds]
        return tuple(v for v, _ in made), made[0][1]
    views = tuple(apply_attack(faces.view(victim, s), species, seed=7 + s) for s in seeds)
    return views, Look(PAPER_C if family == "print" else SCREEN_C)


def thermal_y16(look: Look, core_c: float, index: int, radiometric: bool = False) -> np.ndarray:
    """The thermal camera's y16 frame for one moment of a presentation.

    ``radiometric``: a camera that corrects itself (a radiometric Lepton: no offset, gain or
    drift), for configurations without a blackbody; else the raw sensor with the scene's
    blackbody in view, as the demo's ``[thermal] blackbody_roi`` expects.
    """
    from biogate.capture.synthetic_scenes import render_thermal

    opts: dict = {"seed": THERMAL_SEED, "ffc_period": 0}
    if radiometric:
        opts.update(sensor_offset_c=0.0, sensor_gain=1.0, drift_c_per_frame=0.0)
    skin, truth = render_thermal(index, skin_c=core_c - SKIN_OFFSET_C, **opts)
    if look.surface_c is None:
        return skin
    cover, _ = render_thermal(index, skin_c=look.surface_c, **opts)
    if not look.real:
        return cover
    # Same index and seed: same head position and sensor noise; only the face's temperature differs.
    x0, y0, fw, fh = truth["face_box"]
    yy, xx = np.mgrid[0 : skin.shape[0], 0 : skin.shape[1]].astype(np.float32)
    # Face-crop coordinates: the crop is 1.5 face widths wide, its eye line (0.42) on the template's
    # eye line and its chin (0.833) on the template's chin.
    u = 0.5 + (xx - (x0 + fw / 2.0)) / (fw / 0.667)
    v = 0.42 + (yy - (y0 + 0.42 * fh)) / (0.58 * fh / 0.413)
    mask = real_mask(look.real, dict(look.params), u, v)
    return np.where(mask, skin, cover)


def _demo_walkup():
    from biogate.exporters.kiosk_demo import WalkUp as DemoWalkUp

    return DemoWalkUp


class WalkUp(_demo_walkup()):
    """The RGB camera: the demo's walk-up (composition, pacing, motion blur), with these presentations.

    Each stands ``dwell_s`` in front of the kiosk, then ``gap_s`` of empty room; ``segments``
    records (start ns, end ns, presentation) as it happens and ``current`` what is in front of
    the kiosk now, for :class:`ThermalCamera`.
    """

    def __init__(
        self,
        presentations: list[Presentation],
        fps: float = 15.0,
        dwell_s: float = 1.6,
        gap_s: float = 0.6,
        seed: int = 3,
    ) -> None:
        from biogate.exporters.kiosk_demo import _background

        # The demo's __init__ makes its own visitors' views; these come made, so set its state.
        self.visitors = self.presentations = presentations
        self.fps = fps
        self.segments: list[tuple[int, int, Presentation]] = []
        self.current: Presentation | None = None
        self._stop = threading.Event()
        self._scenes = [(p, list(p.views)) for p in presentations]
        self._n_dwell, self._n_gap = max(1, int(dwell_s * fps)), int(gap_s * fps)
        self._rng = np.random.default_rng(seed)
        self._bg = _background(seed)


class ThermalCamera:
    """The thermal camera beside the RGB one: renders whatever stands in front of the kiosk now.

    ``radiometric`` as in :func:`thermal_y16` (:meth:`for_config` picks it from ``[thermal]``).
    """

    def __init__(self, walkup: WalkUp, radiometric: bool = False) -> None:
        self.walkup = walkup
        self.radiometric = radiometric
        self._seq = 0

    @classmethod
    def for_config(cls, walkup: WalkUp, config) -> ThermalCamera:
        """The camera ``config`` expects: raw with a blackbody in view, or self-correcting without."""
        return cls(walkup, radiometric=config.thermal.blackbody_roi is None)

    def read(self, timeout: float | None = None) -> Frame | None:
        p = self.walkup.current
        if p is None:
            return None
        self._seq += 1
        y16 = thermal_y16(p.look, p.core_c, self._seq, self.radiometric)
        return Frame(y16, "y16", t_capture=now_ns(), seq=self._seq, source="bench://thermal",
                     meta={"ambient_c": 22.0})  # fmt: skip

    def close(self) -> None:
        pass


def blackbody() -> tuple[list[int], float]:
    """The thermal scene's blackbody (x, y, w, h) and set point, for a ``[thermal]`` table."""
    from biogate.capture.synthetic_scenes import thermal_layout

    return list(thermal_layout(160, 120)["blackbody"]), 35.0
