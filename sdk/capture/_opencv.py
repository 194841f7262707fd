"""Opening a V4L2 device through OpenCV's ``CAP_V4L2`` backend, failing fast and clearly.

Shared by ``v4l2://`` and ``uvc-thermal://``, whose sources derive from
:class:`OpenCVDeviceSource`. Before OpenCV is asked, the node must exist and be readable, so a
missing camera is an immediate :class:`SourceError` naming the URI instead of OpenCV's silent
``isOpened() == False`` (or a 10 s select timeout). Requested properties are read back; a
mismatch is logged and kept in ``meta`` rather than silently ignored.
"""

from __future__ import annotations

import abc
import logging
import os
from typing import Any, Callable

import cv2
import numpy as np

from ..errors import ConfigError, SourceDisconnected, SourceError
from ..frame import now_ns
from .source import Source
from .uri import SourceURI

log = logging.getLogger("biogate.capture")

CaptureFactory = Callable[[str, int], Any]


def default_factory(device: str, api: int) -> Any:
    """``cv2.VideoCapture(device, api)``: the production factory."""
    return cv2.VideoCapture(device, api)


def fourcc_code(text: str, name: str) -> int:
    """A 4-character code (``MJPG``, ``YUYV``, ``Y16``) → OpenCV's int; ConfigError otherwise."""
    code = (text or "").ljust(4)
    if len(code) != 4 or not code.isprintable():
        raise ConfigError(f"source {name!r}: fourcc must be 4 characters like MJPG or YUYV, got {text!r}")
    return cv2.VideoWriter_fourcc(*code)


def fourcc_text(value: float) -> str:
    code = int(value)
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ")


def open_device(
    name: str,
    device: str,
    factory: CaptureFactory,
    props: list[tuple[str, int, float | None]],
    read_timeout_ms: int = 2000,
) -> tuple[Any, dict[str, Any]]:
    """Open ``device`` with OpenCV V4L2 and apply ``props`` (label, CAP_PROP_*, value or None).

    Returns the capture object and a dict ``{label: {"requested", "actual"}}`` for meta.
    """
    if not os.path.exists(device):
        raise SourceError(f"{name}: no such video device {device!r} (run `biogate doctor` to list cameras)")
    if not os.access(device, os.R_OK | os.W_OK):
        raise SourceError(f"{name}: no permission to open {device!r} (add the user to the 'video' group)")
    cap = factory(device, cv2.CAP_V4L2)
    if not cap.isOpened():
        cap.release()
        raise SourceError(
            f"{name}: OpenCV's V4L2 backend cannot open {device!r} (busy, or not a capture node)"
        )
    if hasattr(cv2, "CAP_PROP_READ_TIMEOUT_MSEC"):
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_timeout_ms)
    applied: dict[str, Any] = {}
    for label, prop, value in props:
        if value is None:
            continue
        ok = cap.set(prop, value)
        actual = cap.get(prop)
        if label == "fourcc":
            applied[label] = {"requested": fourcc_text(value), "actual": fourcc_text(actual)}
            mismatch = applied[label]["requested"] != applied[label]["actual"]
        else:
            applied[label] = {"requested": value, "actual": actual}
            mismatch = abs(float(actual) - float(value)) > 0.5
        if not ok or mismatch:
            log.warning(
                "%s: %s requested %s, device gives %s",
                name,
                label,
                applied[label]["requested"],
                applied[label]["actual"],
            )
    return cap, applied


def driver_timestamp_ns(cap: Any) -> tuple[int, str]:
    """The V4L2 buffer timestamp (CLOCK_MONOTONIC on UVC) when plausible, else the host clock."""
    now = now_ns()
    try:
        stamp = int(float(cap.get(cv2.CAP_PROP_POS_MSEC)) * 1e6)
    except (TypeError, ValueError):
        stamp = 0
    if 0 < stamp <= now and now - stamp < 2_000_000_000:
        return stamp, "driver"
    return now, "host"


class OpenCVDeviceSource(Source):
    """A V4L2 node read through ``cv2.VideoCapture`` by the background grabber.

    Subclasses name the capture properties to request (:meth:`_properties`) and turn each raw
    image into a Frame in ``_grab`` via :meth:`_read`. ``options`` must hold ``read_timeout_ms``.
    """

    LIVE = True

    def __init__(
        self, uri: SourceURI, options: dict[str, Any], capture_factory: CaptureFactory | None = None
    ):
        super().__init__(uri, options)
        self.device = uri.location
        self._factory = capture_factory or default_factory
        self._cap: Any = None
        self.negotiated: dict[str, Any] = {}

    @abc.abstractmethod
    def _properties(self) -> list[tuple[str, int, Any]]:
        """``(name, cv2.CAP_PROP_*, value)`` to set before the first read; ``None`` leaves one alone."""

    def _open(self) -> None:
        self._cap, self.negotiated = open_device(
            self.name, self.device, self._factory, self._properties(), int(self.options["read_timeout_ms"])
        )

    def _read(self) -> tuple[np.ndarray, int, str]:
        """One image from the device with its capture time (ns) and that time's source."""
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceDisconnected(
                f"{self.name}: read from {self.device} failed (camera unplugged or stalled)"
            )
        t_capture, stamp = driver_timestamp_ns(self._cap)
        return image, t_capture, stamp

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
