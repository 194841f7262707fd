"""``synthetic://`` — deterministic generated streams with ground truth, for tests and demos.

Grammar::

    synthetic://face|thermal|xray[?fps=F&frames=N&seed=S&width=W&height=H&format=...]
    synthetic://walkup?folder=DIR[&channel=rgb|thermal&...]     (see biogate.capture.synthetic_walkup)

Options: ``fps`` (paced frame rate, 0 = as fast as the consumer reads; defaults face 30,
thermal 9, xray 1), ``frames`` (stop after N, 0 = endless), ``seed``, ``width``/``height``
(defaults: face 640×480, thermal 160×120, xray 480×600), ``max_blur`` and ``blur_period``
(face), ``format`` (thermal: ``celsius32`` after radiometric processing, or raw ``y16``
centi-kelvin) plus every thermal option of :mod:`biogate.capture.thermal_stream`. For
``synthetic://thermal`` the blackbody ROI and set point default to the scene's own reference
(pass ``blackbody_c`` and ``blackbody`` to override, ``correct=false`` to disable).
``synthetic://walkup`` is the kiosk walk-up (scripted visitors, an RGB and a thermal camera);
its options are in :mod:`biogate.capture.synthetic_walkup`.

``meta["truth"]`` carries the ground truth of every frame. The scenes are the simulators of
:mod:`biogate.sim` (:func:`~biogate.sim.face.render_face`, :func:`~biogate.sim.thermal.render_thermal`,
:func:`~biogate.sim.xray_frames.render_xray`). Paced streams stamp ``t_capture`` at the frame's
scheduled exposure time, as a camera's driver timestamp would; a consumer that falls behind
sees the frame age grow exactly as with a real sensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError
from ..frame import Frame
from ..sim.face import render_face
from ..sim.thermal.scene import render_thermal, thermal_layout
from ..sim.xray_frames import render_xray
from .options import Option
from .radiometry import BlackbodyReference, centikelvin_to_celsius
from .source import Source
from .synthetic_walkup import OPTIONS as WALKUP_OPTIONS
from .synthetic_walkup import create as create_walkup
from .thermal_stream import THERMAL_OPTIONS, ThermalProcessor
from .uri import SourceURI

GRAMMAR = "synthetic://face|thermal|xray|walkup[?fps=F&frames=N&seed=S&width=W&height=H]"
SCENES = ("face", "thermal", "xray", "walkup")
_DEFAULTS = {"face": (30.0, 640, 480), "thermal": (9.0, 160, 120), "xray": (1.0, 480, 600)}

OPTIONS = (
    Option("fps", "float", None, "paced frame rate (0 = unpaced)", minimum=0.0, maximum=1000.0),
    Option("frames", "int", 0, "stop after this many frames (0 = endless)", minimum=0),
    Option("seed", "int", 0, "scene seed"),
    Option("width", "int", None, "frame width", minimum=16, maximum=16384),
    Option("height", "int", None, "frame height", minimum=16, maximum=16384),
    Option("max_blur", "float", 4.0, "face: strongest Gaussian blur sigma", minimum=0.0),
    Option("blur_period", "int", 60, "face: frames per focus cycle", minimum=2),
    Option("format", "str", "celsius32", "thermal: celsius32 or y16", choices=("celsius32", "y16")),
    Option("correct", "bool", True, "thermal: apply the scene's blackbody correction by default"),
    Option("ffc_period", "int", 270, "thermal: frames between simulated FFC freezes (0 = none)", minimum=0),
    *THERMAL_OPTIONS,
    *WALKUP_OPTIONS,
)


class SyntheticSource(Source):
    """A paced generator of face, thermal or X-ray frames with ground truth in ``meta['truth']``."""

    LIVE = True

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        super().__init__(uri, options)
        scene = uri.location.strip("/")
        if scene not in _DEFAULTS:
            raise ConfigError(
                f"source {uri.raw!r}: unknown synthetic scene {scene!r}; valid: {', '.join(SCENES)}"
            )
        self.scene = scene
        fps, width, height = _DEFAULTS[scene]
        self.target_fps = float(options["fps"]) if options.get("fps") is not None else fps
        self.width = int(options.get("width") or width)
        self.height = int(options.get("height") or height)
        self.frames = int(options.get("frames") or 0)
        self.seed = int(options.get("seed") or 0)
        self._index = 0
        self._thermal: ThermalProcessor | None = None
        if scene == "thermal" and options.get("format") == "celsius32":
            refs = None
            if options.get("correct", True) and options.get("blackbody") is None:
                roi = thermal_layout(self.width, self.height)["blackbody"]
                setpoint = options.get("blackbody_c")
                refs = [BlackbodyReference(roi, 35.0 if setpoint is None else float(setpoint))]
            elif not options.get("correct", True):
                refs = []
            self._thermal = ThermalProcessor(options, self.name, self._count, references=refs)

    def _grab(self) -> Frame | None:
        if self.frames and self._index >= self.frames:
            return None
        index, self._index = self._index, self._index + 1
        # Draw first, then wait for the frame's tick: like a sensor whose readout lands at a fixed
        # time, the frame is published on its clock and the drawing cost does not age it.
        image, fmt, truth = self._draw(index)
        t_capture = self._pace(self.target_fps)
        if t_capture is None:
            return None
        meta: dict[str, Any] = {"truth": truth, "index": index}
        if self._thermal is not None:
            image, thermal_meta = self._thermal.process(centikelvin_to_celsius(image), t_capture, raw=image)
            fmt = "celsius32"
            meta.update(thermal_meta)
        return Frame(image, fmt, t_capture, meta=meta)

    def _draw(self, index: int) -> tuple[np.ndarray, str, dict[str, Any]]:
        opts = self.options
        if self.scene == "face":
            image, truth = render_face(
                index, self.seed, self.width, self.height, float(opts["max_blur"]), int(opts["blur_period"])
            )
            return image, "bgr8", truth
        if self.scene == "xray":
            image, truth = render_xray(index, self.seed, self.width, self.height)
            return image, "xray16", truth
        raw, truth = render_thermal(
            index,
            self.seed,
            self.width,
            self.height,
            blackbody_c=35.0 if opts.get("blackbody_c") is None else float(opts["blackbody_c"]),
            ffc_period=int(opts["ffc_period"]),
        )
        return raw, "y16", truth


def create(uri: SourceURI, options: dict[str, Any]) -> Source:
    """Build (not start) a synthetic source."""
    if uri.location.strip("/") == "walkup":
        return create_walkup(uri, options)
    return SyntheticSource(uri, options)
