"""The kiosk walk-up: scripted visitors in front of the kiosk's RGB and thermal cameras.

A walk-up is a script of :class:`Visitor` s; each stands at the kiosk for ``dwell_s`` (small
jitter, a moment of motion blur every fifth frame that the sharpness gate must reject), then
leaves for ``gap_s``. The RGB camera sees their face photograph placed in the room
(:func:`biogate.sim.face.place_face`); the thermal camera beside it sees the Lepton scene of
:func:`biogate.sim.thermal.render_thermal` with the visitor's skin temperature, or paper at room
temperature for a printed-photo attack. ``synthetic://walkup`` streams it; ``biogate demo``
runs the kiosk on it and checks every decision against :attr:`Visitor.expect`.

The faces are real photographs, which the device side cannot make: they come in a **visitors
folder** (:data:`MANIFEST`, written by :func:`write_visitors` on a training machine, where
``biogate demo --prepare DIR`` takes them from :mod:`biogate.exporters.data.face_data` and makes
the print attack with :mod:`biogate.exporters.pad.attacks`)::

    walkup.json      {"schema": "biogate.walkup/1", "background": "background.png",
                      "visitors": [{"label", "identity", "name", "enrolled", "expect",
                                    "attack", "core_c", "views": [png, ...], "enrol": png|null}]}
    *.png            face views (BGR as cv2 writes them), enrolment photos, the room

Reading it needs OpenCV only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from ..errors import ConfigError
from .face import place_face
from .focus import defocus, motion_blur_every
from .thermal.scene import render_thermal, thermal_layout

MANIFEST = "walkup.json"
SCHEMA = "biogate.walkup/1"
EXPECTS = ("open", "deny", "alarm")
#: Frame size of the RGB camera and side of the face in it (a visitor fills much of the frame).
FRAME_W, FRAME_H = 640, 480
FACE_SIDE = 260
#: Thermal camera: scene seed, room and paper temperatures (°C), core − skin offset.
THERMAL_SEED = 11
ROOM_C = 22.0
PAPER_C = 22.5  # a print held up at the kiosk, a little above the room
SKIN_OFFSET_C = 1.1
BLACKBODY_C = 35.0


@dataclass(frozen=True)
class Visitor:
    """One person (or attack) walking up to the kiosk, and the decision the kiosk must make."""

    label: str
    identity: str
    enrolled: bool
    expect: str  # "open" | "deny" | "alarm"
    attack: str | None = None
    core_c: float = 36.6
    name: str = ""
    views: tuple[np.ndarray, ...] = field(default=(), compare=False, repr=False)  # BGR face images
    enrol: np.ndarray | None = field(default=None, compare=False, repr=False)  # BGR enrolment photo


@dataclass(frozen=True)
class Visitors:
    """A visitors folder, read: the script in order, and the room behind them."""

    visitors: tuple[Visitor, ...]
    background: np.ndarray  # bgr8, FRAME_H × FRAME_W
    folder: str = ""

    def select(self, which: str = "all", count: int = 0) -> tuple[Visitor, ...]:
        """``all``, ``genuine`` (no attacks) or ``enrolled`` (only those who must get in); ``count``
        > 0 cycles through them until that many visitors walked up."""
        pick = {
            "all": lambda v: True,
            "genuine": lambda v: not v.attack,
            "enrolled": lambda v: v.expect == "open",
        }
        if which not in pick:
            raise ConfigError(f"walk-up visitors {which!r}; valid: {', '.join(pick)}")
        chosen = tuple(v for v in self.visitors if pick[which](v))
        if not chosen:
            raise ConfigError(f"the visitors folder {self.folder!r} has no {which} visitor")
        return chosen if count <= 0 else tuple(chosen[i % len(chosen)] for i in range(count))

    def enrolment(self) -> dict[str, tuple[str, np.ndarray]]:
        """identity → (display name, BGR enrolment photo) for everyone enrolled."""
        return {v.identity: (v.name or v.identity, v.enrol) for v in self.visitors if v.enrol is not None}


def _read_png(folder: Path, name: Any, what: str) -> np.ndarray:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"{folder / MANIFEST}: {what} must be a file name in the folder, got {name!r}")
    image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigError(f"{folder / name}: {what} is missing or not an image OpenCV can read")
    return image


def load_visitors(folder: str | Path) -> Visitors:
    """Read a visitors folder; one :class:`~biogate.errors.ConfigError` naming the file or key at fault."""
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist: the walk-up's visitors come from `biogate demo --prepare DIR` "
            "on a training machine"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable walk-up manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ConfigError(
            f"{path}: schema must be {SCHEMA!r}, got {doc.get('schema') if isinstance(doc, dict) else doc!r}"
        )
    entries = doc.get("visitors")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: 'visitors' must be a non-empty list")
    background = cv2.resize(_read_png(folder, doc.get("background"), "background"), (FRAME_W, FRAME_H))
    visitors: list[Visitor] = []
    for i, entry in enumerate(entries):
        where = f"{path}: visitors[{i}]"
        try:
            expect = str(entry["expect"])
            views = tuple(_read_png(folder, name, f"visitors[{i}] view") for name in entry["views"])
            visitor = Visitor(
                label=str(entry["label"]),
                identity=str(entry["identity"]),
                enrolled=bool(entry["enrolled"]),
                expect=expect,
                attack=entry.get("attack") or None,
                core_c=float(entry.get("core_c", 36.6)),
                name=str(entry.get("name") or entry["identity"]),
                views=views,
                enrol=None
                if entry.get("enrol") is None
                else _read_png(folder, entry["enrol"], f"{where} enrol"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: missing or bad key ({exc})") from None
        if expect not in EXPECTS or not views:
            raise ConfigError(f"{where}: expect must be one of {', '.join(EXPECTS)} and views non-empty")
        visitors.append(visitor)
    return Visitors(tuple(visitors), background, str(folder))


def write_visitors(folder: str | Path, visitors: Sequence[Visitor], background: np.ndarray) -> Path:
    """Write a visitors folder (images as PNG, BGR) that :func:`load_visitors` reads back."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for k, v in enumerate(visitors):
        stem = f"{k}-{v.identity}"
        names = [f"{stem}-view{j}.png" for j in range(len(v.views))]
        for name, image in zip(names, v.views):
            cv2.imwrite(str(folder / name), image)
        enrol = None
        if v.enrol is not None:
            enrol = f"{stem}-enrol.png"
            cv2.imwrite(str(folder / enrol), v.enrol)
        entries.append(
            {
                "label": v.label,
                "identity": v.identity,
                "name": v.name or v.identity,
                "enrolled": v.enrolled,
                "expect": v.expect,
                "attack": v.attack,
                "core_c": v.core_c,
                "views": names,
                "enrol": enrol,
            }
        )
    cv2.imwrite(str(folder / "background.png"), background)
    doc = {"schema": SCHEMA, "background": "background.png", "visitors": entries}
    (folder / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return folder


@dataclass
class Shot:
    """One RGB frame of the script: the image, who is in it (``None`` between visitors), truth."""

    image: np.ndarray
    visitor: Visitor | None
    truth: dict[str, Any]


class WalkupScene:
    """The script as frames: ``shots()`` yields every RGB frame in order; ``thermal(shot)`` renders
    what the thermal camera sees at the same moment."""

    def __init__(
        self,
        visitors: Sequence[Visitor],
        background: np.ndarray,
        fps: float = 15.0,
        dwell_s: float = 1.6,
        gap_s: float = 0.6,
        seed: int = 3,
        blur_every: int = 5,
    ) -> None:
        if not visitors:
            raise ConfigError("a walk-up needs at least one visitor")
        self.visitors = tuple(visitors)
        self.background = background
        self.n_dwell = max(1, int(dwell_s * fps))
        self.n_gap = max(0, int(gap_s * fps))
        self.seed = seed
        self.blur_every = blur_every

    @property
    def frames(self) -> int:
        """Frames in the whole script."""
        return len(self.visitors) * (self.n_dwell + self.n_gap)

    def shots(self) -> Iterator[Shot]:
        rng = np.random.default_rng(self.seed)
        index = 0
        for k, visitor in enumerate(self.visitors):
            for i in range(self.n_dwell + self.n_gap):
                truth: dict[str, Any] = {"scene": "walkup", "index": index, "visitor": k}
                if i < self.n_dwell:
                    jitter = tuple(int(v) for v in rng.integers(-6, 7, 2))
                    image = place_face(
                        self.background, visitor.views[i % len(visitor.views)], FACE_SIDE, jitter
                    )
                    sigma = motion_blur_every(i, self.blur_every)
                    image = defocus(image, sigma)
                    truth.update(label=visitor.label, expect=visitor.expect, blur_sigma=sigma)
                    yield Shot(image, visitor, truth)
                else:
                    yield Shot(self.background, None, truth)
                index += 1

    @staticmethod
    def thermal(shot: Shot) -> np.ndarray:
        """The thermal camera's y16 frame of ``shot``: the visitor's skin, or a print at paper temperature."""
        visitor = shot.visitor
        if visitor is None:
            raise ConfigError("no visitor in this shot: the thermal camera sees only the room")
        skin_c = PAPER_C if visitor.attack else visitor.core_c - SKIN_OFFSET_C
        y16, _ = render_thermal(
            shot.truth["index"], seed=THERMAL_SEED, skin_c=skin_c, ambient_c=ROOM_C, ffc_period=0
        )
        return y16


def blackbody() -> tuple[list[int], float]:
    """Where the thermal scene's blackbody sits (x, y, w, h) and its set point, for ``[thermal]`` config."""
    return list(thermal_layout(160, 120)["blackbody"]), BLACKBODY_C


__all__ = [
    "FACE_SIDE",
    "MANIFEST",
    "Shot",
    "Visitor",
    "Visitors",
    "WalkupScene",
    "blackbody",
    "load_visitors",
    "write_visitors",
]
