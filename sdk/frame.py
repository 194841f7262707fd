"""The :class:`Frame` that flows between every stage (DESIGN.md §3), and its one colour conversion.

:meth:`Frame.rgb`, :meth:`Frame.bgr` and :meth:`Frame.gray` (and :func:`to_rgb8` for bare arrays)
are the only place a camera format becomes the 8-bit RGB, BGR or luma image a model takes.
"""

from __future__ import annotations

import math
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

    def rgb(self) -> np.ndarray:
        """HxWx3 uint8 RGB (the image itself for ``rgb8``; 16-bit formats scaled by their bit depth)."""
        return _color8(self.image, None, "RGB", self.format)

    def bgr(self) -> np.ndarray:
        """HxWx3 uint8 BGR (the image itself for ``bgr8``), as OpenCV and most cameras order it."""
        return _color8(self.image, None, "BGR", self.format)

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


#: Frame formats a colour image can be made of, and the OpenCV conversion for those that need one.
_COLOR_FORMATS = ("gray8", "rgb8", "bgr8", "y16", "xray16", "nv12", "yuyv")


def _scale_16bit(img: np.ndarray) -> np.ndarray:
    """uint16 → uint8 by the data's own bit depth (10/12/14/16-bit sensors keep their contrast)."""
    top = int(img.max()) if img.size else 0
    bits = max(8, math.ceil(math.log2(top + 1))) if top > 0 else 8
    return (img.astype(np.float32) * (255.0 / (2**bits - 1)) + 0.5).astype(np.uint8)


def to_rgb8(image: Any, order: str = "RGB") -> np.ndarray:
    """An HxWx3 uint8 RGB array from a :class:`Frame` or an array.

    Arrays: HxW grey, HxWx1/3/4 in ``order`` (``RGB`` or ``BGR``), uint8, uint16 (scaled by its bit
    depth) or float in 0..1.  Frames: ``gray8``, ``rgb8``, ``bgr8``, ``y16``/``xray16``, ``nv12``, ``yuyv``.
    """
    if isinstance(image, Frame):
        return image.rgb()
    return _color8(image, order, "RGB", None)


def _color8(arr: Any, order: str | None, out: str, fmt: str | None) -> np.ndarray:
    """The one conversion: array (in ``order``) or frame data (format ``fmt``) → uint8 in ``out``."""
    if fmt is not None:
        if fmt not in _COLOR_FORMATS:
            valid = ", ".join(_COLOR_FORMATS)
            raise ConfigError(f"cannot make a colour image of {fmt!r} frames (valid: {valid})")
        if fmt in ("nv12", "yuyv"):
            import cv2

            packed = np.ascontiguousarray(arr if fmt == "nv12" else arr.reshape(arr.shape[0], -1, 2))
            code = {
                ("nv12", "RGB"): cv2.COLOR_YUV2RGB_NV12,
                ("nv12", "BGR"): cv2.COLOR_YUV2BGR_NV12,
                ("yuyv", "RGB"): cv2.COLOR_YUV2RGB_YUYV,
                ("yuyv", "BGR"): cv2.COLOR_YUV2BGR_YUYV,
            }[(fmt, out)]
            return cv2.cvtColor(packed, code)
        order = "BGR" if fmt == "bgr8" else "RGB"
    if order not in ("RGB", "BGR"):
        raise ConfigError(f"unknown channel order {order!r}; valid: RGB, BGR")
    img = np.asarray(arr)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or img.shape[0] < 2 or img.shape[1] < 2:
        raise ConfigError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {img.shape}")
    if img.dtype == np.uint16:
        img = _scale_16bit(img)
    elif img.dtype != np.uint8:
        if not np.issubdtype(img.dtype, np.floating):
            raise ConfigError(f"unsupported image dtype {img.dtype}; use uint8, uint16 or float in 0..1")
        img = (np.clip(np.nan_to_num(img), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if img.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(img, 3, axis=2))
    img = img[:, :, :3]
    return np.ascontiguousarray(img[:, :, ::-1] if order != out else img)
