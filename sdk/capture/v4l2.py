"""``v4l2://`` — USB/UVC and other V4L2 cameras through OpenCV's ``CAP_V4L2`` backend.

Grammar::

    v4l2:///dev/videoN | v4l2://N [?width=W&height=H&fps=F&fourcc=MJPG|YUYV|GREY&format=bgr8|yuyv|gray8]

Options: ``width``/``height``/``fps`` (requested from the driver, read back, mismatch logged
and kept in ``meta["negotiated"]``), ``fourcc`` (pixel format on the wire: ``MJPG`` for high
resolutions over USB 2, ``YUYV`` uncompressed), ``format`` (``bgr8`` = OpenCV decodes/converts;
``yuyv`` = the raw YUYV buffer with ``CONVERT_RGB`` off, whose luma the sharpness kernels read
in place; ``gray8`` for ``GREY`` sensors), ``buffers`` (driver queue depth, kept small: the
grabber thread dequeues continuously so the newest frame is always at hand),
``read_timeout_ms``. ``t_capture`` is the V4L2 buffer timestamp (CLOCK_MONOTONIC) when the
driver provides one, else the host time after dequeue (``meta["timestamp"]`` says which).
A read failure (camera unplugged) raises :class:`SourceDisconnected`, or reconnects with
``reconnect=1``.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError
from ..frame import Frame
from ._opencv import CaptureFactory, OpenCVDeviceSource, fourcc_code
from .options import Option
from .uri import SourceURI

GRAMMAR = "v4l2:///dev/videoN|v4l2://N[?width=W&height=H&fps=F&fourcc=MJPG|YUYV|GREY&format=bgr8|yuyv|gray8]"

OPTIONS = (
    Option("width", "int", None, "requested width", minimum=1, maximum=16384),
    Option("height", "int", None, "requested height", minimum=1, maximum=16384),
    Option("fps", "float", None, "requested frame rate", minimum=0.1, maximum=1000.0),
    Option("fourcc", "str", None, "pixel format on the wire (MJPG, YUYV, GREY, ...)"),
    Option("format", "str", "bgr8", "frame format delivered", choices=("bgr8", "yuyv", "gray8")),
    Option("buffers", "int", 2, "driver buffer queue depth (CAP_PROP_BUFFERSIZE)", minimum=1),
    Option("read_timeout_ms", "int", 2000, "a read blocked longer than this is a lost device", minimum=1),
)


class V4L2Source(OpenCVDeviceSource):
    """One V4L2 capture node, read by a background grabber."""

    def __init__(
        self, uri: SourceURI, options: dict[str, Any], capture_factory: CaptureFactory | None = None
    ):
        super().__init__(uri, options, capture_factory)
        fmt = options["format"]
        fourcc = options.get("fourcc")
        if fmt == "yuyv" and (fourcc or "YUYV").upper() != "YUYV":
            raise ConfigError(f"source {uri.raw!r}: format=yuyv needs fourcc=YUYV, got {fourcc}")
        if fmt == "gray8" and (fourcc or "GREY").upper() not in ("GREY", "Y800"):
            raise ConfigError(f"source {uri.raw!r}: format=gray8 needs fourcc=GREY, got {fourcc}")
        if fmt == "yuyv":
            fourcc = "YUYV"
        elif fmt == "gray8":
            fourcc = fourcc or "GREY"
        self._fourcc = fourcc_code(fourcc, uri.raw) if fourcc else None

    def _properties(self) -> list[tuple[str, int, Any]]:
        opts = self.options
        raw = opts["format"] != "bgr8"
        return [
            ("fourcc", cv2.CAP_PROP_FOURCC, self._fourcc),
            ("width", cv2.CAP_PROP_FRAME_WIDTH, opts.get("width")),
            ("height", cv2.CAP_PROP_FRAME_HEIGHT, opts.get("height")),
            ("fps", cv2.CAP_PROP_FPS, opts.get("fps")),
            ("buffers", cv2.CAP_PROP_BUFFERSIZE, opts.get("buffers")),
            ("convert_rgb", cv2.CAP_PROP_CONVERT_RGB, 0 if raw else None),
        ]

    def _grab(self) -> Frame | None:
        image, t_capture, stamp = self._read()
        fmt = self.options["format"]
        if fmt == "yuyv":
            image = image.reshape(image.shape[0], -1)  # (h, 2w) packed Y0 U Y1 V: a view, no copy
        elif fmt == "gray8" and image.ndim == 3:
            image = np.ascontiguousarray(image[:, :, 0])
        elif fmt == "bgr8" and image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        meta = {"timestamp": stamp, "device": self.device}
        if self.negotiated:
            meta["negotiated"] = self.negotiated
        return Frame(image, fmt, t_capture, meta=meta)


def create(
    uri: SourceURI, options: dict[str, Any], capture_factory: CaptureFactory | None = None
) -> V4L2Source:
    """Build (not start) a V4L2 source; ``capture_factory(device, api)`` replaces cv2.VideoCapture."""
    return V4L2Source(uri, options, capture_factory)
