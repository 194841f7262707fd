"""biogate — edge SDK for biometric access terminals.

Public entry points (one per subsystem):

* :func:`open_source` — a capture source from a URI (``v4l2://``, ``csi://``, ``synthetic://face`` ...)
* :mod:`biogate.engine` — ``engine.load(bundle)`` runs a model bundle on ONNX Runtime or TensorRT
* :class:`FrameSelector` — keeps the sharpest frames of a stream (C kernels in ``biogate._native``)

Importing biogate never imports torch.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    BackendUnavailable,
    BiogateError,
    BundleError,
    ConfigError,
    EngineError,
    GalleryError,
    GateProtocolError,
    SourceDisconnected,
    SourceError,
)
from .frame import Frame
from .select import FrameSelector, ScoredFrame

__version__ = "0.1.0"


def open_source(uri: str, **options: Any):
    """Open a capture source by URI; see :mod:`biogate.capture` for schemes and options."""
    from .capture import open_source as _open_source

    return _open_source(uri, **options)


__all__ = [
    "BackendUnavailable",
    "BiogateError",
    "BundleError",
    "ConfigError",
    "EngineError",
    "Frame",
    "FrameSelector",
    "GalleryError",
    "GateProtocolError",
    "ScoredFrame",
    "SourceDisconnected",
    "SourceError",
    "__version__",
    "open_source",
]
