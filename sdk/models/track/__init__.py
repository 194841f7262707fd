"""Surveillance modes of seed 000 §4: many faces per frame, one recognition per person.

* **Mode A** — every face, skipping people already identified (:class:`IdentifiedCache` by track
  id and by embedding; :class:`FrameIdentifier` runs embed → cache → gallery).
* **Mode B** — group crops by embedding similarity, keep each group's sharpest
  (:func:`group_by_similarity`, :func:`sharpest_per_group`).
* **Mode C** — SORT-style :class:`IoUTracker` (Kalman prediction, Hungarian IoU assignment, birth
  after ``min_hits``, death after ``max_age`` misses); :class:`TrackedFaceSelector` keeps each
  track's sharpest face through :class:`~biogate.select.TrackSelector`.

Mode A lives in :mod:`.identify`, Mode B in :mod:`.groups`, Mode C in :mod:`.iou`. Boxes are
``(x, y, w, h)`` in pixels, as :data:`biogate.sharpness.Roi`.  Only numpy (and OpenCV for colour
crops) is used; the Hungarian solver is written in :mod:`.iou` so the device needs no SciPy.
"""

from __future__ import annotations

from .groups import crop_sharpness, group_by_similarity, sharpest_per_group
from .identify import FaceResult, FrameIdentifier, Identified, IdentifiedCache
from .iou import Box, IoUTracker, Track, TrackedFaceSelector, iou_matrix, linear_assignment

__all__ = [
    "Box",
    "FaceResult",
    "FrameIdentifier",
    "Identified",
    "IdentifiedCache",
    "IoUTracker",
    "Track",
    "TrackedFaceSelector",
    "crop_sharpness",
    "group_by_similarity",
    "iou_matrix",
    "linear_assignment",
    "sharpest_per_group",
]
