"""What the kiosk's two cameras see in ``bench_attacks.py``: genuine visitors, strangers and attacks.

Every presentation is a real photograph of :mod:`biogate.exporters.data.face_data` (augmented
views, as the demo uses them), written into a visitors folder (:func:`write_walkup`) that
``synthetic://walkup`` walks up to the kiosk (:class:`Cameras`: the demo's room, jitter, motion
blur, pacing). An attack is a species of :data:`biogate.exporters.pad.attacks.ATTACKS` rendered on
an *enrolled* person's photograph (the victim). The thermal camera beside the RGB one
(:class:`ThermalCamera`, genlocked to it) sees, where the face is:

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

The thermal image is the synthetic Lepton scene of :func:`biogate.sim.thermal.render_thermal` (a
template head, not the person's own thermal face); the attack's geometry is mapped onto it by
face-relative position (eye line and chin). That is the main approximation here, stated in docs/security.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from biogate.frame import Frame

PAPER_C = 22.5  # a print held up at the kiosk (the demo's walk-up uses the same)
SCREEN_C = 26.0  # a phone/tablet display held up for seconds, moderate brightness
WARM_C = 34.5  # a print or mask at skin temperature: beyond what the skin check can see
THERMAL_SEED = 11
SKIN_OFFSET_C = 1.1

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
    """The offline photographs (``face_data``, as the demo's visitors), one augmented view per
    (identity, seed), cached; RGB."""

    def __init__(self) -> None:
        from biogate.exporters.data.face_data import load_faces

        self._samples = {s.identity: s for s in load_faces(min_size=40, margin=0.6, lfw=False)}
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    @property
    def identities(self) -> list[str]:
        return sorted(self._samples)

    def view(self, identity: str, seed: int) -> np.ndarray:
        key = (identity, seed)
        if key not in self._cache:
            from biogate.exporters.data.face_data import augmented_views

            self._cache[key] = augmented_views(self._samples[identity], 1, seed=seed)[0].image
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
    from biogate.sim.thermal import render_thermal

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


def write_walkup(
    folder: Path, presentations: list[Presentation], background: np.ndarray, enrol: dict
) -> Path:
    """The presentations as a visitors folder of :mod:`biogate.sim.walkup` (``synthetic://walkup``).

    ``enrol``: identity -> RGB enrolment photo, attached to that identity's first genuine visitor
    (``biogate.kiosk.demo.enrol_visitors`` enrols from them).
    """
    from biogate.sim.walkup import Visitor, write_visitors

    visitors, given = [], set()
    for p in presentations:
        photo = enrol.get(p.identity) if p.kind == "genuine" and p.identity not in given else None
        given |= {p.identity} if photo is not None else set()
        visitors.append(
            Visitor(
                p.label, p.identity, p.kind == "genuine", "open" if p.kind == "genuine" else "deny",
                attack=p.species or None, core_c=p.core_c, name=p.identity,
                views=tuple(np.ascontiguousarray(v[:, :, ::-1]) for v in p.views),
                enrol=None if photo is None else np.ascontiguousarray(photo[:, :, ::-1]),
            )
        )  # fmt: skip
    return write_visitors(folder, visitors, background)


class ThermalCamera:
    """The thermal camera beside the RGB one, genlocked: one frame per RGB frame with someone in view,
    with the RGB frame's capture time, of what that presentation shows (:func:`thermal_y16`).

    ``radiometric`` as in :func:`thermal_y16`. ``read`` gives the newest frame not yet read.
    """

    def __init__(self, radiometric: bool = False) -> None:
        self.radiometric = radiometric
        self._newest: Frame | None = None
        self._lock = threading.Lock()

    def expose(self, p: Presentation, index: int, t_capture: int) -> None:
        y16 = thermal_y16(p.look, p.core_c, index, self.radiometric)
        frame = Frame(y16, "y16", t_capture, seq=index, source="bench://thermal", meta={"ambient_c": 22.0})
        with self._lock:
            self._newest = frame

    def read(self, timeout: float | None = None) -> Frame | None:
        with self._lock:
            frame, self._newest = self._newest, None
        return frame

    def close(self) -> None:
        pass


class Cameras:
    """``synthetic://walkup`` of the presentations' visitors folder, plus its :class:`ThermalCamera`.

    Iterating gives the RGB frames (the walk-up source: pacing, jitter, motion blur, the room); each
    frame with someone in view first triggers the thermal camera. ``segments`` are the RGB source's,
    paired with the presentations: (t_start ns, t_last ns, presentation).
    """

    def __init__(self, folder: Path, presentations: list[Presentation], config: Any, **walkup: Any) -> None:
        self.folder, self.presentations, self.walkup = folder, presentations, walkup
        self.rgb: Any = None  # opened when the pipeline starts reading (a live source paces from open)
        self.thermal = ThermalCamera(radiometric=config.thermal.blackbody_roi is None)
        self._closed = False

    def __iter__(self) -> Iterator[Frame]:
        from biogate import open_source
        from biogate.kiosk.demo import walkup_uri

        if self._closed:
            return
        options = dict(self.walkup)
        self.rgb = open_source(walkup_uri(self.folder, options.pop("fps", 15.0), **options))
        for frame in self.rgb:
            truth = frame.meta.get("truth", {})
            if "label" in truth:  # a visitor in view (not the empty room between visitors)
                p = self.presentations[truth["visitor"] % len(self.presentations)]  # count= cycles them
                self.thermal.expose(p, truth["index"], frame.t_capture)
            yield frame

    @property
    def segments(self) -> list[tuple[int, int, Presentation]]:
        done = [] if self.rgb is None else self.rgb.segments
        n = len(self.presentations)
        return [(t0, t1, self.presentations[k % n]) for k, (t0, t1, _) in enumerate(done)]

    def close(self) -> None:
        self._closed = True
        if self.rgb is not None:
            self.rgb.close()


def background(folder: Path) -> np.ndarray:
    """The room of a prepared demo folder's walk-up (``biogate demo --prepare``)."""
    from biogate.sim.walkup import load_visitors

    return load_visitors(folder / "walkup").background
