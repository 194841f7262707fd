"""``file://`` — a video file decoded with OpenCV (FFmpeg), lossless by default.

Grammar::

    file://clip.mp4[?fps=F&realtime=0|1&loop=0|1]

Options: ``fps`` (playback rate; 0 = as fast as read), ``realtime`` (pace at the file's own
frame rate), ``loop``. Relative paths are made absolute when the URI is parsed. A missing,
empty or undecodable file is one :class:`SourceError` naming it; a truncated file ends the
stream early with a warning naming the file and how many frames it gave. ``meta`` carries the
container position (``pos_ms``) and frame index.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import cv2

from ..errors import SourceError
from ..frame import Frame, now_ns
from .options import Option
from .source import Source
from .uri import SourceURI

GRAMMAR = "file://PATH.mp4|avi|mkv|...[?fps=F&realtime=0|1&loop=0|1]"
log = logging.getLogger("biogate.capture")

OPTIONS = (
    Option("fps", "float", 0.0, "playback rate (0 = unpaced)", minimum=0.0, maximum=1000.0),
    Option("realtime", "bool", False, "pace at the file's own frame rate"),
    Option("loop", "bool", False, "start again at the end"),
)


class FileSource(Source):
    """Frames of a video file, decoded by OpenCV."""

    LIVE = False

    def __init__(self, uri: SourceURI, options: dict[str, Any], capture_factory: Any = None) -> None:
        super().__init__(uri, options)
        self.path = uri.location
        self._factory = capture_factory or (lambda path: cv2.VideoCapture(path, cv2.CAP_FFMPEG))
        self._cap: Any = None
        self._index = 0
        self._expected = 0
        self._rate = float(options.get("fps") or 0.0)

    def _open(self) -> None:
        if os.path.isdir(self.path):
            raise SourceError(
                f"{self.name}: {self.path!r} is a folder, not a video file; "
                f"for a folder of images use dir://{self.path}"
            )
        if not os.path.isfile(self.path):
            raise SourceError(f"{self.name}: video file {self.path!r} does not exist")
        if os.path.getsize(self.path) == 0:
            raise SourceError(f"{self.name}: video file {self.path!r} is empty (0 bytes)")
        cap = self._factory(self.path)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"{self.name}: cannot decode video file {self.path!r} (corrupt or unsupported codec)"
            )
        self._cap = cap
        self._expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if self.options.get("realtime") and not self._rate:
            self._rate = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)

    def _grab(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            if self._expected and self._index < self._expected - 1:
                log.warning(
                    "%s: %s ended after %d of %d frames (truncated or corrupt)",
                    self.name,
                    self.path,
                    self._index,
                    self._expected,
                )
                self._count("truncated")
            if self.options.get("loop") and self._index:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self._index = 0
                return self._grab()
            return None
        pos_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        index, self._index = self._index, self._index + 1
        t_capture = self._pace(self._rate) if self._rate > 0 else now_ns()
        if t_capture is None:
            return None
        fmt = "gray8" if image.ndim == 2 else "bgr8"
        return Frame(image, fmt, t_capture, meta={"frame_index": index, "pos_ms": pos_ms, "path": self.path})

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def create(uri: SourceURI, options: dict[str, Any], capture_factory: Any = None) -> FileSource:
    """Build (not start) a video-file source."""
    return FileSource(uri, options, capture_factory)
