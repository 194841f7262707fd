"""``csi://`` — Jetson CSI cameras through a GStreamer ``nvarguscamerasrc`` pipeline (OpenCV).

Grammar::

    csi://N[?width=W&height=H&fps=F&flip=0..7&sensor_mode=M&output=bgr8|gray8|nv12]
    csi://N?pipeline=<a full pipeline ending in an appsink>

The pipeline always ends in ``appsink drop=true max-buffers=1 sync=false``: the sink keeps one
buffer and drops older ones, so OpenCV never queues stale frames (the ~0.5 s lag of the default
sink, JetsonHacksNano/CSI-Camera#45). ``nvvidconv`` scales/flips in NVMM memory and converts on
the VIC; ``output=gray8`` or ``nv12`` then reaches the CPU without a colour conversion, while
``bgr8`` needs ``videoconvert`` (BGRx → BGR, one CPU copy). :func:`build_pipeline` and
:func:`validate_pipeline` work without GStreamer; opening needs an OpenCV built with GStreamer
(JetPack's is). This driver has not run on a Jetson here (see docs/capture.md).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Callable

import cv2

from ..errors import BackendUnavailable, ConfigError, SourceDisconnected, SourceError
from ..frame import Frame, now_ns
from .options import Option
from .source import Source
from .uri import SourceURI

GRAMMAR = "csi://N[?width=W&height=H&fps=F&flip=0..7&sensor_mode=M&output=bgr8|gray8|nv12|pipeline=...]"
APPSINK = "appsink name=biogate drop=true max-buffers=1 sync=false"
_OUTPUT_CAPS = {
    "bgr8": ["video/x-raw, format=(string)BGRx", "videoconvert", "video/x-raw, format=(string)BGR"],
    "gray8": ["video/x-raw, format=(string)GRAY8"],
    "nv12": ["video/x-raw, format=(string)NV12"],
}
KNOWN_ELEMENTS = frozenset(
    {
        "nvarguscamerasrc",
        "nvvidconv",
        "nvvideoconvert",
        "videoconvert",
        "videoflip",
        "videorate",
        "videoscale",
        "queue",
        "identity",
        "appsink",
    }
)

OPTIONS = (
    Option("width", "int", 1280, "output width", minimum=1, maximum=16384),
    Option("height", "int", 720, "output height", minimum=1, maximum=16384),
    Option("fps", "float", 30.0, "sensor frame rate", minimum=0.1, maximum=1000.0),
    Option(
        "flip",
        "int",
        0,
        "nvvidconv flip-method (0 none, 2 rotate 180, 4/6 mirror ...)",
        choices=tuple(range(8)),
    ),
    Option("sensor_mode", "int", None, "nvarguscamerasrc sensor-mode", minimum=0),
    Option("output", "str", "bgr8", "frame format reaching the CPU", choices=tuple(_OUTPUT_CAPS)),
    Option("pipeline", "str", None, "a complete custom pipeline (validated)"),
)


def build_pipeline(
    sensor_id: int = 0,
    width: int = 1280,
    height: int = 720,
    fps: float = 30.0,
    flip: int = 0,
    sensor_mode: int | None = None,
    output: str = "bgr8",
) -> str:
    """The ``nvarguscamerasrc … ! appsink drop=true max-buffers=1 sync=false`` pipeline string."""
    if output not in _OUTPUT_CAPS:
        raise ConfigError(f"csi output {output!r} unknown; valid: {', '.join(_OUTPUT_CAPS)}")
    if not 0 <= flip <= 7:
        raise ConfigError(f"csi flip must be 0..7 (nvvidconv flip-method), got {flip}")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ConfigError(f"csi width/height must be positive and even, got {width}x{height}")
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ConfigError(f"csi fps must be > 0, got {fps}")
    src = f"nvarguscamerasrc sensor-id={int(sensor_id)}"
    if sensor_mode is not None:
        src += f" sensor-mode={int(sensor_mode)}"
    caps = (
        f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, "
        f"framerate=(fraction){rate.numerator}/{rate.denominator}, format=(string)NV12"
    )
    stages = [src, caps, f"nvvidconv flip-method={flip}", *_OUTPUT_CAPS[output], APPSINK]
    return " ! ".join(stages)


_PROP = re.compile(r"^([A-Za-z][\w-]*)=(\S+)$")
_CAPS = re.compile(r"^(video|audio)/x-raw(\(memory:NVMM\))?(\s*,\s*[\w-]+=(\([a-z]+\))?[\w./-]+)*$")


_CAPS_FIELDS = {
    "width": re.compile(r"^(\(int\))?\d+$"),
    "height": re.compile(r"^(\(int\))?\d+$"),
    "framerate": re.compile(r"^(\(fraction\))?\d+/\d+$"),
    "format": re.compile(r"^(\(string\))?[A-Za-z0-9_]+$"),
}


def _check_caps(stage: str) -> None:
    """Caps syntax, and typed values for the fields biogate writes (width, height, framerate, format)."""
    if not _CAPS.match(stage):
        raise ConfigError(f"pipeline stage {stage!r} is not a valid caps string")
    for field in stage.split(",")[1:]:
        key, _, value = field.strip().partition("=")
        check = _CAPS_FIELDS.get(key)
        if check is not None and not check.match(value):
            raise ConfigError(f"pipeline caps {stage!r}: {key}={value} is not a valid {key}")


def validate_pipeline(text: str) -> list[tuple[str, dict[str, str]]]:
    """Check a pipeline's syntax and freshest-frame sink; return its elements ``(name, props)``.

    Raises:
        ConfigError: naming the first bad stage, or a sink that could queue stale frames.
    """
    stages = [s.strip() for s in text.split("!")]
    if len(stages) < 2 or any(not s for s in stages):
        raise ConfigError(f"pipeline {text!r}: stages must be separated by ' ! ' and none may be empty")
    elements: list[tuple[str, dict[str, str]]] = []
    for stage in stages:
        if "/" in stage.split(",")[0]:
            _check_caps(stage)
            continue
        name, *props = stage.split()
        if name not in KNOWN_ELEMENTS:
            raise ConfigError(
                f"pipeline element {name!r} unknown; valid: {', '.join(sorted(KNOWN_ELEMENTS))}"
            )
        parsed: dict[str, str] = {}
        for prop in props:
            m = _PROP.match(prop)
            if not m:
                raise ConfigError(f"pipeline element {name!r}: property {prop!r} is not key=value")
            parsed[m.group(1)] = m.group(2)
        elements.append((name, parsed))
    if elements[0][0] != "nvarguscamerasrc":
        raise ConfigError(f"pipeline must start with nvarguscamerasrc, starts with {elements[0][0]!r}")
    sink_name, sink = elements[-1]
    if sink_name != "appsink":
        raise ConfigError(f"pipeline must end in an appsink, ends in {sink_name!r}")
    want = {"drop": "true", "max-buffers": "1", "sync": "false"}
    wrong = [f"{k}={v}" for k, v in want.items() if sink.get(k, "").lower() != v]
    if wrong:
        raise ConfigError(f"pipeline appsink needs {' '.join(wrong)} (else frames queue up and go stale)")
    return elements


def gstreamer_available() -> bool:
    """True when this OpenCV build can open GStreamer pipelines."""
    return bool(re.search(r"GStreamer:\s*YES", cv2.getBuildInformation()))


class CsiSource(Source):
    """A Jetson CSI camera: nvarguscamerasrc → nvvidconv → appsink, read by OpenCV."""

    LIVE = True

    def __init__(
        self,
        uri: SourceURI,
        options: dict[str, Any],
        capture_factory: Callable[[str, int], Any] | None = None,
    ):
        super().__init__(uri, options)
        if not uri.location.isdigit():
            raise ConfigError(
                f"source {uri.raw!r}: csi:// needs a sensor index like csi://0 (grammar: {GRAMMAR})"
            )
        if options.get("pipeline"):
            self.pipeline = str(options["pipeline"])
            self.output = "bgr8" if "format=(string)BGR" in self.pipeline.replace(" ", "") else "gray8"
        else:
            self.output = options["output"]
            self.pipeline = build_pipeline(
                int(uri.location),
                options["width"],
                options["height"],
                options["fps"],
                options["flip"],
                options.get("sensor_mode"),
                self.output,
            )
        validate_pipeline(self.pipeline)
        self._factory = capture_factory
        self._cap: Any = None
        self._height = int(options["height"])

    def _open(self) -> None:
        if self._factory is None and not gstreamer_available():
            raise BackendUnavailable(
                "opencv (GStreamer build)",
                None,
                why=f"{self.name}: this OpenCV has no GStreamer support; use JetPack's OpenCV",
            )
        cap = (self._factory or cv2.VideoCapture)(self.pipeline, cv2.CAP_GSTREAMER)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"{self.name}: GStreamer could not start {self.pipeline!r} (is nvargus-daemon running?)"
            )
        self._cap = cap

    def _grab(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceDisconnected(
                f"{self.name}: no frame from the CSI pipeline (camera or nvargus-daemon lost)"
            )
        t_capture = now_ns()  # appsink PTS is pipeline-relative; host time right after the pull
        if image.ndim == 3:
            fmt = "bgr8"
        elif self.output == "nv12" and image.shape[0] == self._height * 3 // 2:
            fmt = "nv12"  # Y plane over interleaved UV, as the appsink delivered it
        else:
            fmt = "gray8"
        return Frame(image, fmt, t_capture, meta={"pipeline": self.pipeline})

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def create(uri: SourceURI, options: dict[str, Any], capture_factory: Any = None) -> CsiSource:
    """Build (not start) a CSI source; ``capture_factory(pipeline, api)`` replaces cv2.VideoCapture."""
    return CsiSource(uri, options, capture_factory)
