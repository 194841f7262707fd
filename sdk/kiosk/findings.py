"""What the kiosk's stages found on one frame: the typed record behind ``Work.results``.

One field per finding, each written by one stage (named beside it) and read by the decision
sink (:func:`biogate.kiosk.decide.evidence_from`). A misspelt field is an error, not a new key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Findings:
    """The kiosk's findings on one frame; ``None`` until the stage that writes a field has run."""

    sharpness: float | None = None  # select: the frame's sharpness score
    faces: list = dataclasses.field(default_factory=list)  # detect: every face found, largest first
    face: Any = None  # detect: the face the kiosk decides on (the largest), a FaceDetection
    track_key: str | None = None  # track: stable key of that face across frames ("track-<id>")
    liveness: Any = None  # liveness: the RGB silent-liveness LivenessResult
    enhanced: Any = None  # super_resolution: the EnhancedFace (SR, refined)
    embedding: np.ndarray | None = None  # embed: the face's unit-norm embedding
    match_score: float | None = None  # match: best gallery score (also when below threshold)
    identity: str | None = None  # match: the identity id when accepted, else None
    name: str | None = None  # match: its display name
    temperature_c: float | None = None  # thermal: body temperature estimate
    thermal_live: bool | None = None  # thermal: warm skin where the face is (None: no reading)
    thermal_reading: Any = None  # thermal: the FaceReading behind temperature_c

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _FIELDS:
            raise AttributeError(f"Findings has no field {name!r}; fields: {', '.join(sorted(_FIELDS))}")
        object.__setattr__(self, name, value)


_FIELDS = frozenset(f.name for f in dataclasses.fields(Findings))

__all__ = ["Findings"]
