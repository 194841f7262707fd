"""The :class:`Frame` that flows between every stage (DESIGN.md §3)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigError

#: Pixel formats a Frame may carry, with the dtype and channel count each implies.
FORMATS: dict[str, tuple] = {
    "gray8": (np.uint8, 1),
    "bgr8": (np.uint8, 3),
    "rgb8": (np.uint8, 3),
    "nv12": (np.uint8, 1),  # (h*3/2, w): Y plane on top, interleaved UV below
    "yuyv": (np.uint8, 2),  # (h, w, 2) or (h, 2*w) packed Y0 U Y1 V
    "y16": (np.uint16, 1),
    "celsius32": (np.float32, 1),
    "xray16": (np.uint16, 1),
}


def now_ns() -> int:
    """Monotonic clock in nanoseconds: the time base of every ``t_capture``."""
    return time.monotonic_ns()


@dataclass
class Frame:
    """One captured image and where and when it came from.

    Attributes:
        image: pixel data; a zero-copy view of the driver's buffer where the driver allows.
        format: one of :data:`FORMATS`.
        t_capture: monotonic nanoseconds at capture (driver timestamp when the device has one).
        seq: per-source sequence number; a gap means frames were dropped.
        source: the URI the frame came from.
        meta: free-form facts about the capture (exposure, sensor temperature, DICOM tags, ...).
    """

    image: np.ndarray
    format: str
    t_capture: int
    seq: int = 0
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"unknown frame format {self.format!r}; valid: {', '.join(sorted(FORMATS))}")
        dtype = FORMATS[self.format][0]
        if self.image.dtype != dtype:
            raise ConfigError(
                f"frame format {self.format!r} needs dtype {np.dtype(dtype).name}, got {self.image.dtype}"
            )

    @property
    def age_ms(self) -> float:
        """Milliseconds since capture, on the monotonic clock."""
        return (now_ns() - self.t_capture) / 1e6

    @property
    def height(self) -> int:
        """Image height in pixels (for NV12, the luma height)."""
        rows = self.image.shape[0]
        return rows * 2 // 3 if self.format == "nv12" else rows

    @property
    def width(self) -> int:
        """Image width in pixels."""
        if self.format == "yuyv" and self.image.ndim == 2:
            return self.image.shape[1] // 2
        return self.image.shape[1]

    def gray(self) -> np.ndarray:
        """A uint8 luma view (zero-copy for gray8/NV12/YUYV), converted for colour frames."""
        if self.format == "gray8":
            return self.image
        if self.format == "nv12":
            return self.image[: self.height]
        if self.format == "yuyv":
            packed = self.image.reshape(self.image.shape[0], -1)
            return packed[:, 0::2]
        if self.format in ("bgr8", "rgb8"):
            import cv2

            code = cv2.COLOR_BGR2GRAY if self.format == "bgr8" else cv2.COLOR_RGB2GRAY
            return cv2.cvtColor(self.image, code)
        raise ConfigError(f"frame format {self.format!r} has no 8-bit luma; convert it first")
