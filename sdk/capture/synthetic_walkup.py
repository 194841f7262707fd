"""``synthetic://walkup`` — the kiosk walk-up of :mod:`biogate.sim.walkup` as an RGB and a thermal camera.

Grammar::

    synthetic://walkup?folder=DIR[&channel=rgb|thermal&select=all|genuine|enrolled&count=N
                       &dwell_s=S&gap_s=S&fps=F&frames=N&seed=S]

Options (part of ``synthetic://``'s closed set): ``folder`` (the visitors folder written by
``biogate demo --prepare``; required), ``channel`` (``rgb``: bgr8 640×480 frames, the default;
``thermal``: y16 centi-kelvin 160×120 frames of the camera beside it), ``select`` (which visitors
walk up), ``count`` (cycle through them until N walked up; 0 = each once), ``dwell_s`` / ``gap_s``
(time in front of the kiosk and between visitors), ``fps`` (default 15), ``frames`` (stop early),
``seed`` (position jitter).

The two cameras are hardware-triggered like a genlocked rig: the thermal source opened with the
same ``folder`` and ``seed`` in this process receives, for every RGB frame with a visitor in
view, a thermal frame with the same ``t_capture``, published before the RGB frame is (so a
consumer of the RGB frame always finds its thermal partner). Between visitors the thermal
camera is not triggered. The RGB stream ends after the script; the thermal one ends with it.
``meta["truth"]`` names the visitor of each RGB frame; :attr:`WalkupSource.segments` gives each
visitor's time span once it has passed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..frame import Frame
from ..sim.walkup import ROOM_C, Visitor, WalkupScene, load_visitors
from .options import Option
from .source import Source
from .uri import SourceURI

GRAMMAR = (
    "synthetic://walkup?folder=DIR[&channel=rgb|thermal&select=all|genuine|enrolled&count=N"
    "&dwell_s=S&gap_s=S&fps=F&frames=N&seed=S]"
)

OPTIONS = (
    Option(
        "folder", "str", None, "walkup: the visitors folder (biogate demo --prepare DIR writes DIR/walkup)"
    ),
    Option(
        "channel",
        "str",
        "rgb",
        "walkup: rgb camera or the thermal camera beside it",
        choices=("rgb", "thermal"),
    ),
    Option("select", "str", "all", "walkup: which visitors", choices=("all", "genuine", "enrolled")),
    Option("count", "int", 0, "walkup: visitors in all, cycling (0 = each selected one once)", minimum=0),
    Option("dwell_s", "float", 1.6, "walkup: seconds each visitor stands at the kiosk", minimum=0.1),
    Option("gap_s", "float", 0.6, "walkup: seconds between visitors", minimum=0.0),
)


class _TriggerLine:
    """The wire between the RGB camera and the thermal cameras it triggers."""

    def __init__(self) -> None:
        self.thermal: list[WalkupThermalSource] = []
        self.rgb: WalkupSource | None = None
        self.ended = threading.Event()


_LINES: dict[tuple[str, int], _TriggerLine] = {}
_LINES_LOCK = threading.Lock()


def _line(key: tuple[str, int]) -> _TriggerLine:
    with _LINES_LOCK:
        line = _LINES.get(key)
        if line is None or line.ended.is_set():
            line = _LINES[key] = _TriggerLine()
        return line


def _folder(uri: SourceURI, options: dict[str, Any]) -> str:
    folder = options.get("folder")
    if not folder:
        raise ConfigError(f"source {uri.raw!r}: synthetic://walkup needs folder=DIR (grammar: {GRAMMAR})")
    return str(Path(folder).resolve())


class WalkupSource(Source):
    """The RGB camera of the walk-up: each visitor's face in the room, paced at ``fps``."""

    LIVE = True

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        super().__init__(uri, options)
        self.folder = _folder(uri, options)
        visitors = load_visitors(self.folder)
        self.visitors = visitors.select(str(options.get("select") or "all"), int(options.get("count") or 0))
        self.target_fps = float(options["fps"]) if options.get("fps") is not None else 15.0
        self.scene = WalkupScene(
            self.visitors,
            visitors.background,
            fps=self.target_fps or 15.0,
            dwell_s=float(options.get("dwell_s") or 1.6),
            gap_s=float(options.get("gap_s") or 0.0),
            seed=int(options.get("seed") or 0),
        )
        self.frames = int(options.get("frames") or 0)
        #: (t_start_ns, t_end_ns, visitor) of every visitor that has passed, in order.
        self.segments: list[tuple[int, int, Visitor]] = []
        self._key = (self.folder, self.scene.seed)
        self._line: _TriggerLine | None = None
        self._shots = self.scene.shots()
        self._count_out = 0
        self._current: tuple[int, int, int, Visitor] | None = None  # (k, t_start, t_last, visitor)

    def _open(self) -> None:
        line = _line(self._key)
        if line.rgb is not None and line.rgb is not self:
            raise ConfigError(
                f"source {self.uri.raw!r}: a walk-up with this folder and seed is already running"
            )
        line.rgb = self
        self._line = line

    def _grab(self) -> Frame | None:
        shot = None if self.frames and self._count_out >= self.frames else next(self._shots, None)
        if shot is None:
            self._end()
            return None
        thermal = WalkupScene.thermal(shot) if shot.visitor is not None and self._line.thermal else None
        t_capture = self._pace(self.target_fps)
        if t_capture is None:
            self._end()
            return None
        self._count_out += 1
        self._track(shot.truth["visitor"], shot.visitor, t_capture)
        if thermal is not None:
            for camera in list(self._line.thermal):
                camera.trigger(thermal, t_capture, shot.truth)
        return Frame(shot.image, "bgr8", t_capture, meta={"truth": shot.truth, "index": shot.truth["index"]})

    def _track(self, k: int, visitor: Visitor | None, t: int) -> None:
        if self._current is not None and self._current[0] != k:
            self.segments.append(self._current[1:])
            self._current = None
        if self._current is None:
            self._current = (k, t, t, self.visitors[k])
        else:
            self._current = (k, self._current[1], t, self._current[3])

    def _end(self) -> None:
        if self._current is not None:
            self.segments.append(self._current[1:])
            self._current = None
        if self._line is not None:
            self._line.ended.set()

    def _close(self) -> None:
        self._end()


class WalkupThermalSource(Source):
    """The thermal camera beside the walk-up's RGB camera, triggered by its frames."""

    LIVE = True

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        super().__init__(uri, options)
        self._key = (_folder(uri, options), int(options.get("seed") or 0))
        self._line: _TriggerLine | None = None

    def _open(self) -> None:
        self._line = _line(self._key)
        self._line.thermal.append(self)

    def trigger(self, y16: Any, t_capture: int, truth: dict[str, Any]) -> None:
        """Called by the RGB camera: publish this exposure now, before the RGB frame is."""
        meta = {"ambient_c": ROOM_C, "truth": dict(truth, scene="walkup-thermal")}
        self._publish(Frame(y16, "y16", t_capture, meta=meta))

    def _grab(self) -> Frame | None:
        # Frames arrive through trigger(); this thread only waits for the RGB stream to end.
        while not self._line.ended.wait(0.1):
            if self.stopping:
                return None
        return None

    def _close(self) -> None:
        if self._line is not None and self in self._line.thermal:
            self._line.thermal.remove(self)


def create(uri: SourceURI, options: dict[str, Any]) -> Source:
    """Build (not start) the RGB or thermal camera of a walk-up."""
    if options.get("channel") == "thermal":
        return WalkupThermalSource(uri, options)
    return WalkupSource(uri, options)
