"""Refinement stage of seed 000 (spec §2.3): 3D face coordinates → NeuTex-style refinement → render.

The seed runs 3DDFA_V2 to get a 3D coordinate for every pixel of the super-resolved face.  Its
weights cannot be obtained offline, so this module builds the per-pixel 3D coordinate map from a
**generic face mesh** (an analytic head surface with eye sockets, nose and mouth relief, in
canonical coordinates) posed by a weak-perspective fit to the face's five landmarks, then
rasterised with a z-buffer.  The ``face_refine`` bundle (see ``exporters/nets/refine.py``) maps
those coordinates to a UV texture space and back (NeuTex's 3D→2D→3D cycle) and a small U-Net
renders the refined RGB image.

:class:`Refiner` is pluggable: any callable ``(image, landmarks) -> image`` can replace it, and
``Refiner.disabled()`` (or ``enabled=False``) passes images through for latency-bound setups.
numpy/OpenCV only (runs on Python 3.8 devices without torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict

import cv2
import numpy as np

from ..errors import ConfigError
from .base import BundleModel

Infer = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]

# Canonical landmarks (x right, y down, z toward the camera; unit ≈ half the face width), in dlib's
# 5-point order: image-right eye outer/inner, image-left eye outer/inner, bottom of the nose.
CANONICAL_DLIB5 = np.array(
    [[0.72, -0.32, 0.50], [0.26, -0.30, 0.62], [-0.72, -0.32, 0.50], [-0.26, -0.30, 0.62], [0.0, 0.22, 0.86]],
    np.float32,
)
# MTCNN order: image-left eye centre, image-right eye centre, nose tip, left/right mouth corner.
CANONICAL_MTCNN5 = np.array(
    [[-0.49, -0.31, 0.58], [0.49, -0.31, 0.58], [0.0, 0.08, 0.98], [-0.36, 0.55, 0.62], [0.36, 0.55, 0.62]],
    np.float32,
)


def _gauss(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-(((x - cx) / sx) ** 2) - ((y - cy) / sy) ** 2)


def generic_face_points(n: int = 160) -> np.ndarray:
    """Dense points ``(n*n', 3)`` of the generic face/head surface (front half of an ellipsoid + relief)."""
    xs, ys = np.meshgrid(np.linspace(-1.15, 1.15, n), np.linspace(-1.45, 1.35, int(n * 1.2)))
    rr = (xs / 1.15) ** 2 + ((ys + 0.05) / 1.45) ** 2
    inside = rr < 1.0
    x, y = xs[inside], ys[inside]
    z = 0.75 * np.sqrt(1.0 - rr[inside])
    z += 0.30 * _gauss(x, y, 0.0, 0.05, 0.13, 0.32)  # nose ridge
    z -= 0.10 * (_gauss(x, y, 0.49, -0.31, 0.2, 0.12) + _gauss(x, y, -0.49, -0.31, 0.2, 0.12))  # eye sockets
    z += 0.06 * _gauss(x, y, 0.0, 0.55, 0.3, 0.1)  # lips
    z += 0.05 * (_gauss(x, y, 0.55, 0.25, 0.25, 0.25) + _gauss(x, y, -0.55, 0.25, 0.25, 0.25))  # cheeks
    return np.stack([x, y, z], axis=1).astype(np.float32)


@dataclass
class Pose:
    """Weak-perspective camera: ``image_xy = scale * R[:2] @ X + t``; ``R`` a rotation, depth ``R[2] @ X``."""

    scale: float
    rotation: np.ndarray
    translation: np.ndarray
    residual_px: float


def fit_pose(landmarks: np.ndarray, scheme: str = "dlib5") -> Pose:
    """Weak-perspective pose of the generic face from five 2D landmarks (least squares)."""
    model = {"dlib5": CANONICAL_DLIB5, "mtcnn5": CANONICAL_MTCNN5}.get(scheme)
    if model is None:
        raise ConfigError(f"unknown landmark scheme {scheme!r}; use 'dlib5' or 'mtcnn5'")
    pts = np.asarray(landmarks, np.float64).reshape(-1, 2)
    if pts.shape[0] != 5 or not np.isfinite(pts).all():
        raise ConfigError(
            f"fit_pose needs five finite (x, y) landmarks, got shape {np.asarray(landmarks).shape}"
        )
    a = np.hstack([model.astype(np.float64), np.ones((5, 1))])
    sol, _, _, _ = np.linalg.lstsq(a, pts, rcond=None)  # (4, 2): affine camera
    m = sol[:3].T  # 2x3
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    r2 = u @ vt  # nearest matrix with orthonormal rows
    scale = float(s.mean())
    r3 = np.cross(r2[0], r2[1])
    rot = np.vstack([r2, r3])
    if np.linalg.det(rot) < 0:  # keep a proper rotation (mirror images flip z)
        rot[2] = -rot[2]
    t = pts.mean(axis=0) - scale * (r2 @ model.mean(axis=0))
    proj = scale * model @ r2.T + t
    return Pose(
        scale, rot.astype(np.float32), t.astype(np.float32), float(np.sqrt(((proj - pts) ** 2).sum(1).mean()))
    )


_POINTS: np.ndarray | None = None


def coordinate_map(
    landmarks: np.ndarray, size: tuple[int, int], scheme: str = "dlib5"
) -> tuple[np.ndarray, np.ndarray, Pose]:
    """Per-pixel canonical 3D coordinates of the face: ``(xyz (3,H,W) float32, mask (1,H,W), pose)``.

    Pixels the posed generic face does not cover get zeros and mask 0.  Coordinates are divided by
    1.5 so they stay inside [-1, 1].
    """
    global _POINTS
    if _POINTS is None:
        _POINTS = generic_face_points()
    h, w = int(size[0]), int(size[1])
    pose = fit_pose(landmarks, scheme)
    pts = _POINTS
    # Oversample the mesh relative to the face's pixel size so the z-buffer has no holes.
    xy = pose.scale * pts @ pose.rotation[:2].T + pose.translation
    depth = pts @ pose.rotation[2]
    ix, iy = np.round(xy[:, 0]).astype(np.int64), np.round(xy[:, 1]).astype(np.int64)
    ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    ix, iy, depth, src = ix[ok], iy[ok], depth[ok], pts[ok]
    order = np.argsort(depth, kind="stable")  # farthest first: nearer points overwrite them
    flat = iy[order] * w + ix[order]
    xyz = np.zeros((h * w, 3), np.float32)
    mask = np.zeros(h * w, np.float32)
    xyz[flat] = src[order] / 1.5
    mask[flat] = 1.0
    xyz, mask = xyz.reshape(h, w, 3), mask.reshape(h, w)
    # Close pin-holes left where the mesh is sparser than the pixel grid: neighbour mean.
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    holes = (closed > 0) & (mask == 0)
    count = cv2.blur(mask, (3, 3))[..., None]
    mean = cv2.blur(xyz * mask[..., None], (3, 3)) / np.maximum(count, 1e-6)
    xyz[holes] = mean[holes]
    return xyz.transpose(2, 0, 1).copy(), closed[None].astype(np.float32), pose


class Refiner(BundleModel):
    """Refine a super-resolved face with the ``face_refine`` bundle (or pass it through when disabled).

    Args:
        engine: infer callable with inputs ``image`` (N,3,H,W RGB [0,1]), ``coords`` (N,3,H,W),
            ``mask`` (N,1,H,W) and output ``refined`` (N,3,H,W) — an Engine of ``face_refine``.
        enabled: ``False`` makes :meth:`__call__` return its input (the latency switch, §6 #29).
        scheme: landmark order the caller passes (``dlib5`` or ``mtcnn5``).
    """

    def __init__(self, engine: Infer | None, enabled: bool = True, scheme: str = "dlib5") -> None:
        if enabled and engine is None:
            raise ConfigError("an enabled Refiner needs an engine (the face_refine bundle)")
        self.engine = engine
        self.enabled = bool(enabled)
        self.scheme = scheme

    TASKS = ("face_refinement",)
    MODEL_OPTIONS = ("scheme",)

    @classmethod
    def from_bundle(  # type: ignore[override]
        cls, bundle: str | Path, enabled: bool = True, scheme: str = "dlib5", **options: Any
    ) -> Refiner:
        """Load ``face_refine`` through :func:`biogate.models.base.load_bundle` (nothing when disabled)."""
        if not enabled:
            return cls(None, enabled=False, scheme=scheme)
        return super().from_bundle(bundle, scheme=scheme, **options)

    @classmethod
    def disabled(cls) -> Refiner:
        return cls(None, enabled=False)

    def __call__(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 RGB super-resolved face + its five landmarks (pixels) → refined HxWx3 uint8 RGB."""
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ConfigError(f"Refiner wants an HxWx3 uint8 RGB image, got {img.shape} {img.dtype}")
        if not self.enabled:
            return img
        xyz, mask, _ = coordinate_map(landmarks, img.shape[:2], self.scheme)
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], np.float32) / 255.0
        assert self.engine is not None
        out = self.engine({"image": x, "coords": xyz[None], "mask": mask[None]})["refined"][0]
        return np.clip(out.transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)


__all__ = [
    "CANONICAL_DLIB5",
    "CANONICAL_MTCNN5",
    "Pose",
    "Refiner",
    "coordinate_map",
    "fit_pose",
    "generic_face_points",
]
