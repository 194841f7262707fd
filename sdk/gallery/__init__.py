"""The face gallery: enrolment, templates encrypted at rest, 1:N search and 1:1 verify.

See ``docs/gallery.md``.  Entry points: :class:`Gallery` and :class:`GalleryKey`.
"""

from __future__ import annotations

from .cancelable import CancelableTransform
from .crypto import KEY_ENV, GalleryKey
from .gallery import (
    Enrollment,
    Gallery,
    Identity,
    Match,
    Matches,
    Verification,
    threshold_from_manifest,
)
from .index import TemplateIndex

__all__ = [
    "KEY_ENV",
    "CancelableTransform",
    "Enrollment",
    "Gallery",
    "GalleryKey",
    "Identity",
    "Match",
    "Matches",
    "TemplateIndex",
    "Verification",
    "threshold_from_manifest",
]
