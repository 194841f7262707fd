"""Mode B of seed 000 §4: group face crops by embedding similarity, keep each group's sharpest."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...errors import ConfigError
from ...sharpness import sharpness


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    arr = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=-1, keepdims=True) if arr.ndim == 2 else None
    if norms is None or not np.isfinite(arr).all() or (norms < 1e-12).any():
        raise ConfigError(f"embeddings must be finite, non-zero (n, dim) rows, got shape {arr.shape}")
    return arr / norms


def group_by_similarity(
    embeddings: np.ndarray, threshold: float, method: str = "connected"
) -> list[list[int]]:
    """Mode B: group faces whose embeddings' cosine similarity reaches ``threshold``; largest first.

    ``connected``: any two faces above the threshold, transitively (single linkage: tolerant of
    pose drift, can chain look-alikes); ``centroid``: each face, in order, joins the first group
    whose mean direction it matches.  No default threshold: it belongs to the embedder (dlib's
    puts different people up to 0.93, so grouping needs ~0.95, docs/gallery.md).
    """
    unit = _unit_rows(embeddings) if len(embeddings) else np.zeros((0, 1), np.float32)
    if method not in ("connected", "centroid"):
        raise ConfigError(f"unknown grouping method {method!r}; valid: connected, centroid")
    if method == "connected":
        parent = list(range(len(unit)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, j in zip(*np.nonzero(np.triu(unit @ unit.T >= threshold, k=1))):
            parent[root(int(i))] = root(int(j))
        groups: dict[int, list[int]] = {}
        for i in range(len(unit)):
            groups.setdefault(root(i), []).append(i)
        out = list(groups.values())
    else:
        out, sums = [], []
        for i, vec in enumerate(unit):
            sims = [float(vec @ s) / float(np.linalg.norm(s)) for s in sums]
            best = int(np.argmax(sims)) if sims else -1
            if best >= 0 and sims[best] >= threshold:
                out[best].append(i)
                sums[best] = sums[best] + vec
            else:
                out.append([i])
                sums.append(vec.copy())
    return sorted(out, key=lambda g: (-len(g), g[0]))


def crop_sharpness(crop: np.ndarray, metric: str = "laplacian") -> float:
    """Sharpness of a uint8 face crop (gray, BGR or BGRA)."""
    crop = np.asarray(crop)
    if crop.dtype != np.uint8 or crop.ndim not in (2, 3):
        raise ConfigError(f"a face crop must be a uint8 gray or colour image, got {crop.dtype} {crop.shape}")
    if crop.ndim == 3:
        import cv2

        code = cv2.COLOR_BGRA2GRAY if crop.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        crop = cv2.cvtColor(np.ascontiguousarray(crop), code)
    return float(sharpness(np.ascontiguousarray(crop), metric))


def sharpest_per_group(
    crops: Sequence[np.ndarray],
    embeddings: np.ndarray,
    threshold: float,
    metric: str = "laplacian",
    method: str = "connected",
) -> list[tuple[list[int], int, float]]:
    """Mode B end to end: ``(group indices, index of its sharpest crop, that sharpness)`` per person."""
    if len(crops) != len(embeddings):
        raise ConfigError(f"{len(crops)} crops but {len(embeddings)} embeddings")
    scores = [crop_sharpness(c, metric) for c in crops]
    groups = group_by_similarity(embeddings, threshold, method)
    best = [max(g, key=lambda i: (scores[i], -i)) for g in groups]
    return [(g, b, scores[b]) for g, b in zip(groups, best)]
