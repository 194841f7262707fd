"""``xray-raw://`` — raw 16-bit X-ray detector frames (headerless), as ``xray16``.

Grammar::

    xray-raw://frames.raw?w=W&h=H[&endian=little|big&offset=BYTES&bits=16&invert=0|1]
    xray-raw://export-folder/?w=W&h=H[&watch=1&pattern=*.raw]

A file holds one or more frames of ``w*h`` unsigned 16-bit samples after ``offset`` header
bytes. A folder is watched like an X-ray export folder: each new file is read once it stopped
growing; ``watch=0`` reads every file in the folder at once (name order) and ends.
``bits`` < 16 (12- or 14-bit detectors) scales values up to the 16-bit range;
``invert`` turns transmission data (bright = more photons) into dense = bright.
A file whose size does not fit ``offset + k*w*h*2`` is skipped with a warning giving the
expected and actual sizes (a single file with trailing bytes gives its whole frames first).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import ConfigError, SourceError
from ..frame import Frame, now_ns
from ._folder import FolderSource, FolderWatcher
from .options import Option
from .source import Source
from .uri import SourceURI

GRAMMAR = "xray-raw://FILE.raw|FOLDER/?w=W&h=H[&endian=little|big&offset=N&bits=16&invert=0|1]"

OPTIONS = (
    Option("w", "int", None, "frame width in pixels (required)", minimum=1),
    Option("h", "int", None, "frame height in pixels (required)", minimum=1),
    Option("endian", "str", "little", "sample byte order", choices=("little", "big")),
    Option("offset", "int", 0, "header bytes before the first frame", minimum=0),
    Option("bits", "int", 16, "significant bits per sample (scaled up to 16)", minimum=8),
    Option("invert", "bool", False, "invert (transmission → dense = bright)"),
    Option("watch", "bool", True, "folder: wait for new files"),
    Option("poll_s", "float", 0.25, "folder poll interval", minimum=0.001, maximum=60.0),
    Option(
        "settle_s",
        "float",
        0.5,
        "folder: a new file is read once unchanged this long",
        minimum=0.0,
        maximum=3600.0,
    ),
    Option("pattern", "str", "*.raw,*.bin", "folder: comma-separated file globs"),
    Option("fps", "float", 0.0, "playback rate (0 = as fast as read)", minimum=0.0, maximum=1000.0),
    Option("loop", "bool", False, "replay (demos)"),
)


class RawSource(FolderSource, Source):
    """Headerless 16-bit frames from a file or a watched folder."""

    LIVE = False

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        Source.__init__(self, uri, options)
        if options.get("w") is None or options.get("h") is None:
            raise ConfigError(f"source {uri.raw!r}: options w and h are required (grammar: {GRAMMAR})")
        if int(options["bits"]) > 16:
            raise ConfigError(f"source {uri.raw!r}: bits must be <= 16, got {options['bits']}")
        self.width, self.height = int(options["w"]), int(options["h"])
        self.dtype = np.dtype("<u2" if options["endian"] == "little" else ">u2")
        self.frame_bytes = self.width * self.height * 2
        self.single_file = uri.location if os.path.isfile(uri.location) else ""
        self.watcher = FolderWatcher(
            uri.location, str(options["pattern"]).split(","), float(options["settle_s"]), self.name
        )
        self._pending_frames: list[Frame] = []
        self._folder_init()

    def _open(self) -> None:
        FolderSource._open(self)
        if self.single_file:
            size = os.path.getsize(self.single_file) - int(self.options["offset"])
            if size < self.frame_bytes:
                raise SourceError(
                    f"{self.name}: {self.single_file!r} holds {max(size, 0)} bytes after the "
                    f"{self.options['offset']}-byte offset, less than one {self.width}x{self.height} "
                    f"16-bit frame ({self.frame_bytes} bytes)"
                )

    def _grab(self) -> Frame | None:
        if self._pending_frames:
            frame = self._pending_frames.pop(0)
            t_capture = self._pace(float(self.options.get("fps") or 0))
            if t_capture is None:
                return None
            frame.t_capture = t_capture if self.options.get("fps") else now_ns()
            return frame
        return FolderSource._grab(self)

    def _to_xray16(self, samples: np.ndarray) -> np.ndarray:
        image = (
            samples.astype(np.uint16) if samples.dtype != np.uint16 else samples
        )  # big-endian: byte swap copy
        bits = int(self.options["bits"])
        if bits < 16:
            np.left_shift(image, 16 - bits, out=image)
        if self.options["invert"]:
            np.subtract(np.uint16(65535), image, out=image)
        return image.reshape(self.height, self.width)

    def _decode(self, path: str) -> Frame | None:
        offset = int(self.options["offset"])
        payload = os.path.getsize(path) - offset
        count, rest = divmod(max(payload, 0), self.frame_bytes)
        if count == 0 or (rest and not self.single_file):
            raise SourceError(
                f"size {payload + offset} bytes does not fit offset {offset} + k*{self.frame_bytes} "
                f"({self.width}x{self.height} 16-bit frames)"
            )
        if rest:
            self._skip(path, f"{rest} trailing bytes after {count} whole frames ignored")
        data = np.fromfile(path, dtype=self.dtype, count=count * self.width * self.height, offset=offset)
        frames = []
        for i in range(count):
            samples = data[i * self.width * self.height : (i + 1) * self.width * self.height]
            meta = {
                "path": path,
                "frame_in_file": i,
                "frames_in_file": count,
                "bits": int(self.options["bits"]),
            }
            frames.append(Frame(self._to_xray16(samples), "xray16", now_ns(), meta=meta))
        self._pending_frames.extend(frames[1:])
        return frames[0]


def create(uri: SourceURI, options: dict[str, Any]) -> RawSource:
    """Build (not start) a raw X-ray source."""
    return RawSource(uri, options)
