"""One factory for the face detector that the kiosk, ``identify``, ``enroll`` and ``detect`` use.

``load_face_detector(folder, detector="auto", rotate="any")``:

* ``any`` — :class:`~biogate.models.face_detect_any.AnyAngleFaceDetector` (bundles
  ``face_detect_any``, ``mtcnn_rnet``, ``mtcnn_onet``, ``face_orient``), faces at every orientation
  (``rotate="any"``) or upright only (``rotate="upright"``);
* ``mtcnn`` — :class:`~biogate.models.face_detect.MTCNNDetector` (``mtcnn_pnet/rnet/onet``), upright
  faces only (with ``rotate="any"`` a warning says so);
* ``auto`` (default) — ``any`` when ``folder`` holds ``face_detect_any`` and ``face_orient``
  bundles whose fitness verdicts are ``fit``, else ``mtcnn`` with a warning (bundle folders made
  before the any-orientation detector existed keep working, upright; an unfit detector is never
  picked silently).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError

DETECTORS = ("auto", "any", "mtcnn")
log = logging.getLogger(__name__)


def resolve_detector(folder: str | Path, detector: str = "auto") -> str:
    """``any`` or ``mtcnn``: what ``detector`` means for the bundles in ``folder``."""
    if detector not in DETECTORS:
        raise ConfigError(f"unknown face detector {detector!r}; valid: {', '.join(DETECTORS)}")
    if detector != "auto":
        return detector
    # Every net of the cascade is judged on the whole cascade: all of them must be fit.
    for name in ("face_detect_any", "face_orient"):
        manifest = Path(folder) / name / "manifest.json"
        if not manifest.is_file():
            if name != "face_detect_any":
                log.warning("%s has no %s bundle: auto uses MTCNN", folder, name)
            return "mtcnn"
        try:
            verdict = json.loads(manifest.read_text()).get("fitness", {}).get("verdict")
        except (OSError, ValueError):
            return "mtcnn"  # the loader names a damaged bundle when it is asked for explicitly
        if verdict != "fit":
            log.warning("%s: %s is not fit for its budget; auto uses MTCNN", folder, name)
            return "mtcnn"
    return "any"


def load_face_detector(
    folder: str | Path,
    detector: str = "auto",
    rotate: str = "any",
    min_face: float = 40.0,
    **engine_opts: Any,
) -> Any:
    """The face detector ``detector`` from the bundles in ``folder`` (see the module docstring).

    ``engine_opts`` (``precision``, ``backend``, ``providers``, ``threads``, ``allow_unfit``) go to
    :func:`biogate.engine.load`.
    """
    from .face_detect_any import ROTATIONS

    if rotate not in ROTATIONS:
        raise ConfigError(f"unknown rotate {rotate!r}; valid: {', '.join(ROTATIONS)}")
    kind = resolve_detector(folder, detector)
    if kind == "any":
        from .face_detect_any import AnyAngleFaceDetector

        return AnyAngleFaceDetector.from_bundles(folder, rotate=rotate, min_face=min_face, **engine_opts)
    if detector == "mtcnn" and rotate == "any":
        raise ConfigError(
            "the mtcnn detector finds upright faces only: use rotate='upright' or detector='any'"
        )
    if rotate == "any":
        log.warning("%s has no face_detect_any bundle: falling back to MTCNN, upright faces only", folder)
    from .face_detect import MTCNNDetector

    return MTCNNDetector.from_bundles(folder, min_face=min_face, **engine_opts)


__all__ = ["DETECTORS", "load_face_detector", "resolve_detector"]
