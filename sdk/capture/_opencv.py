"""Opening a V4L2 device through OpenCV's ``CAP_V4L2`` backend, failing fast and clearly.

Shared by ``v4l2://`` and ``uvc-thermal://``. Before OpenCV is asked, the node must exist and
be readable, so a missing camera is an immediate :class:`SourceError` naming the URI instead
of OpenCV's silent ``isOpened() == False`` (or a 10 s select timeout). Requested properties are
read back; a mismatch is logged and kept in ``meta`` rather than silently ignored.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

import cv2

from ..errors import ConfigError, SourceError
from ..frame import now_ns

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
