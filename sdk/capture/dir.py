"""``dir://`` — an image folder played as a stream (sorted by name, optional playback rate).

Grammar::

    dir://path/to/frames/[?fps=F&loop=1&watch=1&pattern=*.png,*.jpg&format=auto]

Options: ``fps`` (playback rate; 0 = as fast as read), ``loop``, ``watch`` (keep waiting for
new files, polled every ``poll_s``, a file counts once it stopped growing for ``settle_s``;
without ``watch`` every file in the folder is read at once, settled or not),
``pattern`` (comma-separated globs), ``format`` (``auto``: 8-bit gray → gray8, 8-bit colour →
bgr8, 16-bit → y16; or force ``xray16``/``y16``/``gray8``/``bgr8``). Lossless by default (every
file is delivered). An unreadable image is skipped with a warning naming the file.
"""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError, SourceError
from ..frame import Frame, now_ns
from ._folder import FolderSource, FolderWatcher
from .options import Option
from .source import Source
from .uri import SourceURI

GRAMMAR = "dir://FOLDER/[?fps=F&loop=0|1&watch=0|1&pattern=GLOBS&format=auto|gray8|bgr8|y16|xray16]"
IMAGE_PATTERNS = "*.png,*.jpg,*.jpeg,*.bmp,*.tif,*.tiff,*.pgm,*.ppm,*.webp"

OPTIONS = (
    Option("fps", "float", 0.0, "playback rate (0 = unpaced)", minimum=0.0, maximum=1000.0),
    Option("loop", "bool", False, "start again after the last file"),
    Option("watch", "bool", False, "wait for new files after the last one"),
    Option("poll_s", "float", 0.2, "folder poll interval when watching", minimum=0.001, maximum=60.0),
    Option(
        "settle_s", "float", 0.0, "a new file is read once unchanged this long", minimum=0.0, maximum=3600.0
    ),
    Option("pattern", "str", IMAGE_PATTERNS, "comma-separated file globs"),
    Option("format", "str", "auto", "frame format", choices=("auto", "gray8", "bgr8", "y16", "xray16")),
)


class DirSource(FolderSource, Source):
    """Images from a folder, one frame per file."""

    LIVE = False

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        Source.__init__(self, uri, options)
        if os.path.isfile(uri.location):
            raise ConfigError(f"source {uri.raw!r}: dir:// needs a folder; use file:// for one video file")
        self.watcher = FolderWatcher(
            uri.location, str(options["pattern"]).split(","), float(options["settle_s"]), self.name
        )
        self._folder_init()

    def _decode(self, path: str) -> Frame | None:
        image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if image is None:
            raise SourceError("not a readable image (corrupt or unsupported)")
        fmt = self.options["format"]
        if image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)  # drop alpha: the one copy here
        if fmt == "auto":
            if image.dtype == np.uint16:
                fmt = "y16" if image.ndim == 2 else ""
            elif image.dtype == np.uint8:
                fmt = "gray8" if image.ndim == 2 else "bgr8"
            if not fmt:
                raise SourceError(f"unsupported image layout {image.dtype} {image.shape}")
        elif fmt in ("y16", "xray16") and (image.dtype != np.uint16 or image.ndim != 2):
            raise SourceError(
                f"format={fmt} needs a 16-bit single-channel image, got {image.dtype} {image.shape}"
            )
        elif fmt == "gray8" and image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        elif fmt == "bgr8" and image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if fmt in ("gray8", "bgr8") and image.dtype != np.uint8:
            raise SourceError(f"format={fmt} needs an 8-bit image, got {image.dtype}")
        return Frame(image, fmt, now_ns(), meta={"path": path})


def create(uri: SourceURI, options: dict[str, Any]) -> DirSource:
    """Build (not start) a folder source."""
    return DirSource(uri, options)
