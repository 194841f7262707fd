"""Frame sharpness scores backed by the C kernels of ``biogate._native``.

Three measures from seed 000 (S102-4): variance of the Laplacian (equal to
``cv2.Laplacian(gray, cv2.CV_64F).var()``), the Brenner gradient and Tenengrad. Each
scores a uint8 gray image, the Y plane of an NV12 buffer or the Y samples of YUYV,
without copying, optionally inside a region of interest and on a decimated grid.
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np

from . import _native
from .errors import ConfigError
from .frame import Frame

Roi = Tuple[int, int, int, int]

_KERNELS: dict[str, Callable[..., float]] = {
    "laplacian": _native.laplacian_var,
    "brenner": _native.brenner,
    "tenengrad": _native.tenengrad,
}
METRICS = tuple(_KERNELS)

# Frame formats whose luma the kernels read in place, and the layout name they use.
_LAYOUT_OF_FORMAT = {"gray8": "gray", "nv12": "nv12", "yuyv": "yuyv"}


def kernel(metric: str) -> Callable[..., float]:
    """The native scoring function for ``metric`` (one of :data:`METRICS`)."""
    try:
        return _KERNELS[metric]
    except KeyError:
        raise ConfigError(f"unknown sharpness metric {metric!r}; valid: {', '.join(METRICS)}") from None


def sharpness(
    image: np.ndarray,
    metric: str = "laplacian",
    *,
    roi: Roi | None = None,
    step: int = 1,
    layout: str = "gray",
    threshold: float = 0.0,
) -> float:
    """Score one image; higher is sharper.

    Args:
        image: uint8 array: (h, w) gray, (h*3/2, w) NV12, or (h, w, 2) / (h, 2w) YUYV.
        metric: ``laplacian``, ``brenner`` or ``tenengrad``.
        roi: ``(x, y, w, h)`` in pixels; scores the crop as if it were the whole image.
        step: decimation; scores ``image[::step, ::step]`` (of the ROI) exactly.
        layout: ``gray``, ``nv12`` or ``yuyv``.
        threshold: Tenengrad only: gradient magnitudes at or below it count as zero.

    Raises:
        ConfigError: unknown metric.  ValueError/TypeError: wrong dtype, shape, stride or ROI.
    """
    fn = kernel(metric)
    if metric == "tenengrad":
        return fn(image, roi=roi, step=step, layout=layout, threshold=threshold)
    return fn(image, roi=roi, step=step, layout=layout)


def frame_sharpness(frame: Frame, metric: str = "laplacian", roi: Roi | None = None, step: int = 1) -> float:
    """Score a :class:`Frame`; colour frames are converted to gray first (one copy)."""
    layout = _LAYOUT_OF_FORMAT.get(frame.format)
    if layout is not None:
        return sharpness(frame.image, metric, roi=roi, step=step, layout=layout)
    return sharpness(frame.gray(), metric, roi=roi, step=step)


def simd_path() -> str:
    """The vector code path of the native kernels on this CPU (``avx2``, ``sse2``, ``neon`` ...)."""
    return _native.simd_path()
