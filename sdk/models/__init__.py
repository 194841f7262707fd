"""Device-side models: numpy/OpenCV pre- and post-processing around an :mod:`biogate.engine` Engine.

Names resolve lazily so importing :mod:`biogate.models` costs nothing and one missing
model family never breaks another.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE: dict[str, str] = {
    # seed 000 — face identity
    "FaceDetector": "face_detect",
    "MTCNNDetector": "face_detect",
    "YoloFaceDetector": "face_detect",
    "AnyAngleFaceDetector": "face_detect_any",
    "load_face_detector": "face_detectors",
    "FaceEmbedder": "face_embed",
    "FaceChain": "face_chain",
    "SuperResolver": "super_resolution",
    "Refiner": "refine",
    # seed 004 — silent liveness
    "FaceLiveness": "liveness",
    # seed 002 — thermal
    "ThermalFace": "thermal",
    # seed 001 — palm X-ray
    "PalmSR": "palm",
    "PalmLiveness": "palm",
    "PalmQuality": "palm",
    # helpers that sit with the models they serve
    "extract_chip": "align",
    "IoUTracker": "track",
    "DecisionLog": "palm_log",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'biogate.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list:
    return sorted(_WHERE)
