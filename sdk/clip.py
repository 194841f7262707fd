"""Read a recorded clip (video file or image folder) frame by frame, in clip time.

Live sources go through :func:`biogate.open_source` and deliver the freshest frame;
offline selection needs every frame of a clip with timestamps on the clip's own
timeline, which is what this reader gives.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .errors import ConfigError, SourceError
from .frame import Frame

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm")


def read_clip(path: str | Path, fps: float | None = None) -> Iterator[Frame]:
    """Yield every frame of a video file or an image folder (sorted by name) as ``bgr8``/``gray8`` Frames.

    ``t_capture`` is the position in the clip in nanoseconds (from the video's timestamps, or
    ``fps`` — default 30 — for folders and videos without them).

    Raises:
        ConfigError: ``fps`` is not a finite number > 0.
        SourceError: the path is missing, not a readable video, or a folder with no images.
    """
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"clip frame rate must be a number > 0, got {fps}")
    path = Path(path)
    if not path.exists():
        raise SourceError(f"clip {str(path)!r} does not exist")
    if path.is_dir():
        yield from _read_folder(path, fps or 30.0)
    else:
        yield from _read_video(path, fps)


def _read_folder(folder: Path, fps: float) -> Iterator[Frame]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SourceError(f"folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    period_ns = int(1e9 / fps)
    for seq, file in enumerate(files):
        image = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
        if image is None or image.dtype != np.uint8:
            raise SourceError(f"image {str(file)!r} is not a readable 8-bit image")
        fmt = "gray8" if image.ndim == 2 else "bgr8"
        if image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        yield Frame(
            image, fmt, t_capture=seq * period_ns, seq=seq, source=f"dir://{folder}", meta={"file": file.name}
        )


def _read_video(file: Path, fps: float | None) -> Iterator[Frame]:
    capture = cv2.VideoCapture(str(file))
    if not capture.isOpened():
        raise SourceError(f"video {str(file)!r} cannot be opened (not a video, or no codec for it)")
    try:
        rate = fps or capture.get(cv2.CAP_PROP_FPS) or 30.0
        seq = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            pos_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
            t_ns = int(pos_ms * 1e6) if fps is None and pos_ms > 0 else int(seq * 1e9 / rate)
            yield Frame(image, "bgr8", t_capture=t_ns, seq=seq, source=f"file://{file}")
            seq += 1
        if seq == 0:
            raise SourceError(f"video {str(file)!r} has no decodable frames")
    finally:
        capture.release()
