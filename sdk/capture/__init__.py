"""Capture sources: RGB, thermal and X-ray sensors behind one URI-based API.

``open_source(uri, **options)`` returns a started :class:`Source`; ``discover()`` lists the
devices this machine has. Driver modules are named after their scheme (``v4l2``, ``csi``,
``rpicam``, ``file``, ``dir``, ``uvc_thermal``, ``mlx90640``, ``dicom``, ``xray_raw``,
``synthetic``); radiometric helpers live in :mod:`biogate.capture.radiometry`.
"""

from __future__ import annotations

from .discover import discover
from .options import Option
from .registry import SCHEMES, describe, open_source, register_scheme
from .source import Source
from .uri import SourceURI, parse_uri

__all__ = [
    "SCHEMES",
    "Option",
    "Source",
    "SourceURI",
    "describe",
    "discover",
    "open_source",
    "parse_uri",
    "register_scheme",
]
