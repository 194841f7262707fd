"""Face alignment: five landmarks → a square face chip, the way dlib builds its 150x150 chips.

The embedder (dlib's ResNet) was trained on chips made by dlib's ``get_face_chip_details`` +
``extract_image_chip``; feeding it chips made any other way costs accuracy.  This module
reproduces that geometry with numpy only:

1. a least-squares similarity transform (Umeyama, no reflection) from a template in chip
   coordinates — ``(padding + t) / (1 + 2 * padding) * size`` — to the detected landmarks;
2. dlib's chip rectangle: centred on the transformed chip centre, side ``size * scale`` with
   dlib's ``centered_drect`` convention (corners ``side - 1`` apart), rotated by the transform's angle;
3. chip pixel (0, 0), (size-1, 0), (0, size-1) map to the rectangle's rotated corners; pixels are
   bilinear samples, black where the 2x2 neighbourhood leaves the image;
4. when the chip is far smaller than the face region, dlib first builds a 2x image pyramid
   (5-tap [1 4 6 4 1] filter, ``p_down = p / 2 - (1.25, 0.75)``) and samples the level that
   is still larger than the chip; this is emulated with the same filter and coordinate map.

Two landmark schemes are accepted: ``dlib5`` (dlib's 5-point predictor: the eye on the image's
right — outer then inner corner —, the other eye — outer then inner —, bottom of the nose) and
``mtcnn5`` (MTCNN: left eye centre, right eye centre, nose tip, left and right mouth corners, as
seen in the image).  The ``mtcnn5`` template is derived from dlib's own 68-point mean face, so
both give chips in the same frame.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ..frame import to_rgb8

# dlib's 5-point template (get_face_chip_details), in units of the unpadded chip.
DLIB5_TEMPLATE = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ],
    dtype=np.float64,
)

# The same frame for MTCNN's points, from dlib's mean 68-point face: eye centres (mean of the six
# eye-contour points 36-41 and 42-47), nose tip (30), mouth corners (48, 54).
MTCNN5_TEMPLATE = np.array(
    [
        [0.2254918, 0.2159903],
        [0.7547613, 0.2159903],
        [0.4901270, 0.5156250],
        [0.2541490, 0.7802330],
        [0.7261040, 0.7802330],
    ],
    dtype=np.float64,
)

TEMPLATES = {"dlib5": DLIB5_TEMPLATE, "mtcnn5": MTCNN5_TEMPLATE}


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst``.

    Returns the 2x3 matrix ``M`` with ``dst ≈ src @ M[:, :2].T + M[:, 2]``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0**2).sum() / len(src)
    if var_s <= 0:
        raise ConfigError("landmarks are degenerate (all points coincide)")
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def _rotate(center: np.ndarray, p: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    q = p - center
    return center + np.array([c * q[0] - s * q[1], s * q[0] + c * q[1]])


def chip_geometry(
    landmarks: np.ndarray, size: int = 150, padding: float = 0.25, scheme: str = "dlib5"
) -> tuple[np.ndarray, float]:
    """dlib's chip rectangle ``(left, top, right, bottom)`` in image pixels and its angle (radians)."""
    if scheme not in TEMPLATES:
        raise ConfigError(f"unknown landmark scheme {scheme!r}; valid: {', '.join(TEMPLATES)}")
    pts = np.asarray(landmarks, np.float64)
    if pts.shape != (5, 2) or not np.all(np.isfinite(pts)):
        raise ConfigError(f"alignment needs 5 finite (x, y) landmarks, got shape {pts.shape}")
    if size < 8 or padding < 0:
        raise ConfigError(f"chip size must be >= 8 and padding >= 0, got size={size} padding={padding}")
    chip_pts = (padding + TEMPLATES[scheme]) / (2 * padding + 1) * size
    m = similarity_transform(chip_pts, pts)
    angle = math.atan2(m[1, 0], m[0, 0])
    scale = math.hypot(m[0, 0], m[1, 0])
    center = m[:, :2] @ np.array([size / 2.0, size / 2.0]) + m[:, 2]
    half = (size * scale - 1.0) / 2.0
    rect = np.array([center[0] - half, center[1] - half, center[0] + half, center[1] + half])
    return rect, angle


def chip_to_image(rect: np.ndarray, angle: float, size: int) -> np.ndarray:
    """2x3 affine matrix taking chip pixel coordinates to image coordinates."""
    left, top, right, bottom = rect
    center = np.array([(left + right) / 2.0, (top + bottom) / 2.0])
    tl = _rotate(center, np.array([left, top]), angle)
    tr = _rotate(center, np.array([right, top]), angle)
    bl = _rotate(center, np.array([left, bottom]), angle)
    m = np.zeros((2, 3))
    m[:, 0] = (tr - tl) / (size - 1)
    m[:, 1] = (bl - tl) / (size - 1)
    m[:, 2] = tl
    return m


def _pyramid_down(image: np.ndarray) -> np.ndarray:
    """One level of dlib's pyramid_down<2> on uint8 RGB: integer 5x5 [1 4 6 4 1] filter, 2x decimation.

    Output pixel (r, c) is centred on input (2r + 2, 2c + 2); sizes ``(n - 3) // 2``; the sum is
    divided by 256 with truncation, as dlib does.
    """
    img = image.astype(np.uint32)
    h, w = img.shape[:2]
    out_h, out_w = (h - 3) // 2, (w - 3) // 2
    if h <= 8 or w <= 8 or out_h < 1 or out_w < 1:
        raise ConfigError(f"image of {w}x{h} pixels is too small to align")
    cols = [img[:, j : j + 2 * out_w : 2] for j in range(5)]
    rows = cols[0] + 4 * cols[1] + 6 * cols[2] + 4 * cols[3] + cols[4]
    taps = [rows[i : i + 2 * out_h : 2] for i in range(5)]
    return ((taps[0] + 4 * taps[1] + 6 * taps[2] + 4 * taps[3] + taps[4]) // 256).astype(np.uint8)


def _rect_down(rect: np.ndarray) -> np.ndarray:
    """dlib pyramid_down<2>::rect_down: each corner p becomes p / 2 - (1.25, 0.75)."""
    return np.array([rect[0] / 2 - 1.25, rect[1] / 2 - 0.75, rect[2] / 2 - 1.25, rect[3] / 2 - 0.75])


def _area(rect: np.ndarray) -> float:
    """dlib drectangle area: (right - left + 1) * (bottom - top + 1), 0 when empty."""
    if rect[0] > rect[2] or rect[1] > rect[3]:
        return 0.0
    return float((rect[2] - rect[0] + 1) * (rect[3] - rect[1] + 1))


def _lround(v: float) -> int:
    return math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)


def _bilinear(image: np.ndarray, m: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Sample ``image`` (float, HxWxC) at ``m @ (x, y, 1)`` for every output pixel; 0 outside."""
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    px = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    py = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    h, w = image.shape[:2]
    ok = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < w) & (y0 + 1 < h)
    x0c, y0c = np.clip(x0, 0, max(w - 2, 0)), np.clip(y0, 0, max(h - 2, 0))
    x1c, y1c = np.minimum(x0c + 1, w - 1), np.minimum(y0c + 1, h - 1)
    fx, fy = (px - x0)[..., None], (py - y0)[..., None]
    top = (1 - fx) * image[y0c, x0c] + fx * image[y0c, x1c]
    bottom = (1 - fx) * image[y1c, x0c] + fx * image[y1c, x1c]
    out = (1 - fy) * top + fy * bottom
    out[~ok] = 0
    return out


def extract_chip(
    image: np.ndarray, landmarks: np.ndarray, size: int = 150, padding: float = 0.25, scheme: str = "dlib5"
) -> np.ndarray:
    """The aligned ``size`` x ``size`` uint8 chip (same channel order as ``image``).

    ``image``: HxW grey, HxWx3/4 colour, uint8, uint16 (scaled by its bit depth) or float in 0..1
    (see :func:`biogate.frame.to_rgb8`).
    ``landmarks``: (5, 2) pixel coordinates in ``scheme`` order.
    """
    img = to_rgb8(image)
    rect, angle = chip_geometry(landmarks, size, padding, scheme)
    h, w = img.shape[:2]
    n = float(size * size)
    # How deep dlib's pyramid must go, and the border it keeps around the rotated rectangle.
    depth, grow, r = 0, 2.0, _rect_down(rect)
    while _area(r) > n:
        r, depth, grow = _rect_down(r), depth + 1, grow * 2 + 2
    center = np.array([(rect[0] + rect[2]) / 2.0, (rect[1] + rect[3]) / 2.0])
    corners = np.array(
        [
            _rotate(center, np.array(p), angle)
            for p in ((rect[0], rect[1]), (rect[2], rect[1]), (rect[0], rect[3]), (rect[2], rect[3]))
        ]
    )
    lo, hi = corners.min(0) - grow, corners.max(0) + grow
    bb = [
        _lround(max(lo[0], 0.0)),
        _lround(max(lo[1], 0.0)),
        _lround(min(hi[0], w - 1.0)),
        _lround(min(hi[1], h - 1.0)),
    ]
    if bb[0] > bb[2] or bb[1] > bb[3]:
        raise ConfigError("the landmarks put the face chip entirely outside the image")
    src = img[bb[1] : bb[3] + 1, bb[0] : bb[2] + 1]
    local = rect - np.array([bb[0], bb[1], bb[0], bb[1]], np.float64)
    while _area(_rect_down(local)) > n and min(src.shape[:2]) > 8:
        src, local = _pyramid_down(src), _rect_down(local)
    chip = _bilinear(src.astype(np.float64), chip_to_image(local, angle, size), size, size)
    return np.clip(chip, 0, 255).astype(np.uint8)  # dlib truncates, it does not round


__all__ = [
    "DLIB5_TEMPLATE",
    "MTCNN5_TEMPLATE",
    "TEMPLATES",
    "chip_geometry",
    "chip_to_image",
    "extract_chip",
    "similarity_transform",
]
