"""The face gallery: enrolment, templates encrypted at rest, 1:N search and 1:1 verify.

See ``docs/gallery.md``.  Entry points: :class:`Gallery` and :class:`GalleryKey`.
"""

from __future__ import annotations

from .batch import check_threshold
from .cancelable import CancelableTransform
from .crypto import KEY_ENV, GalleryKey
from .gallery import REFRESH_S, Gallery, threshold_from_manifest
from .index import TemplateIndex
from .integrity import GalleryState
from .records import Change, Enrollment, Identity, Match, Matches, Verification
from .store import LOCK_TIMEOUT_S

__all__ = [
    "KEY_ENV",
    "LOCK_TIMEOUT_S",
    "REFRESH_S",
    "CancelableTransform",
    "Change",
    "Enrollment",
    "Gallery",
    "GalleryKey",
    "GalleryState",
    "Identity",
    "Match",
    "Matches",
    "TemplateIndex",
    "Verification",
    "check_threshold",
    "threshold_from_manifest",
]
