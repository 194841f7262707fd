"""``rpicam://`` — Raspberry Pi cameras through picamera2 (libcamera), imported lazily.

Grammar::

    rpicam://N[?width=W&height=H&fps=F&format=bgr8|gray8&buffers=B&max_stale=K]

picamera2 keeps a queue of completed requests, so ``capture_request()`` can hand back a frame
exposed *before* the call (raspberrypi/picamera2#426, #787, #849). This driver stamps the
monotonic clock before each request and releases any request whose ``SensorTimestamp`` (ns,
same clock as ``time.monotonic_ns``) is older, up to ``max_stale`` times, counting them in
``stats()["stale_rejected"]``. ``t_capture`` is the ``SensorTimestamp``. The configuration uses
``queue=False`` as a first line of defence.

Copies: ``request.make_array("main")`` copies the DMA buffer into numpy (picamera2 must, to
release the buffer back to libcamera); nothing is copied after that. ``format=bgr8`` asks for
``RGB888`` (B, G, R byte order in memory in picamera2's naming); ``gray8`` asks for ``YUV420``
and returns the Y plane as a view. Tested against a faithful fake of the picamera2 objects,
never on a Raspberry Pi here (see docs/capture.md).
"""

from __future__ import annotations

from typing import Any

from .._lazy import lazy_import
from ..errors import ConfigError, SourceDisconnected, SourceError
from ..frame import Frame, now_ns
from .options import Option
from .source import Source
from .uri import SourceURI

GRAMMAR = "rpicam://N[?width=W&height=H&fps=F&format=bgr8|gray8&buffers=B&max_stale=K]"

OPTIONS = (
    Option("width", "int", 1280, "main stream width", minimum=16, maximum=16384),
    Option("height", "int", 720, "main stream height", minimum=16, maximum=16384),
    Option("fps", "float", 30.0, "frame rate (FrameDurationLimits control)", minimum=0.1, maximum=1000.0),
    Option("format", "str", "bgr8", "frame format", choices=("bgr8", "gray8")),
    Option("buffers", "int", 4, "libcamera buffer count", minimum=1),
    Option("max_stale", "int", 8, "requests released for predating the call before giving up", minimum=0),
)

_META_KEYS = {
    "SensorTimestamp": "sensor_timestamp_ns",
    "ExposureTime": "exposure_us",
    "AnalogueGain": "analogue_gain",
    "DigitalGain": "digital_gain",
    "FrameDuration": "frame_duration_us",
    "Lux": "lux",
    "ColourTemperature": "colour_temperature_k",
    "SensorTemperature": "sensor_temperature_c",
    "FocusFoM": "focus_fom",
    "LensPosition": "lens_position",
}


class RpiCamSource(Source):
    """A libcamera camera driven through picamera2's request API."""

    LIVE = True

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        super().__init__(uri, options)
        if not uri.location.isdigit():
            raise ConfigError(f"source {uri.raw!r}: rpicam:// needs a camera index like rpicam://0")
        self.camera_num = int(uri.location)
        self._cam: Any = None

    def _open(self) -> None:
        module = lazy_import("picamera2", "rpi")
        opts = self.options
        try:
            cam = module.Picamera2(camera_num=self.camera_num)
        except (IndexError, RuntimeError) as exc:
            raise SourceError(f"{self.name}: cannot open camera {self.camera_num}: {exc}") from exc
        try:
            pixel = "RGB888" if opts["format"] == "bgr8" else "YUV420"
            frame_us = round(1e6 / float(opts["fps"]))
            config = cam.create_video_configuration(
                main={"size": (int(opts["width"]), int(opts["height"])), "format": pixel},
                buffer_count=int(opts["buffers"]),
                controls={"FrameDurationLimits": (frame_us, frame_us)},
                queue=False,
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:
            cam.close()
            raise SourceError(
                f"{self.name}: camera {self.camera_num} refused the configuration: {exc}"
            ) from exc
        self._cam = cam

    def _grab(self) -> Frame | None:
        t_request = now_ns()
        limit = int(self.options["max_stale"])
        for _attempt in range(limit + 1):
            try:
                request = self._cam.capture_request()
            except RuntimeError as exc:
                raise SourceDisconnected(f"{self.name}: capture failed: {exc}") from exc
            try:
                metadata = request.get_metadata()
                stamp = metadata.get("SensorTimestamp")
                if stamp is not None and int(stamp) < t_request:
                    self._count("stale_rejected")
                    continue
                array = request.make_array("main")
            finally:
                request.release()
            return self._frame(array, metadata, stamp)
        raise SourceDisconnected(
            f"{self.name}: {limit + 1} requests in a row predate the call (camera stalled?)"
        )

    def _frame(self, array: Any, metadata: dict[str, Any], stamp: int | None) -> Frame:
        if self.options["format"] == "gray8":
            array = array[: int(self.options["height"])]  # Y plane of YUV420: a view
            fmt = "gray8"
        else:
            if array.ndim == 3 and array.shape[2] == 4:
                array = array[:, :, :3]
            fmt = "bgr8"
        meta = {key: metadata[src] for src, key in _META_KEYS.items() if src in metadata}
        t_capture = int(stamp) if stamp is not None else now_ns()
        meta["timestamp"] = "sensor" if stamp is not None else "host"
        return Frame(array, fmt, t_capture, meta=meta)

    def _close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            try:
                cam.stop()
            finally:
                cam.close()


def create(uri: SourceURI, options: dict[str, Any]) -> RpiCamSource:
    """Build (not start) a picamera2 source (picamera2 is imported when it opens)."""
    return RpiCamSource(uri, options)
