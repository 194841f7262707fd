"""``biogate capture URI --frames N --out DIR``: record frames from any source for field checks.

8-bit frames are written as PNG, ``y16``/``xray16`` as 16-bit PNG, ``celsius32`` as ``.npy``
(exact float °C) plus a 16-bit PNG in centi-kelvin that any viewer opens. ``frames.jsonl`` holds
one line per frame (file, seq, capture time, age at read, meta) and ``stats.json`` the source's
counters (captured, dropped, fps, age p50/p99, reconnect outages).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import cv2
import numpy as np

from ..capture import open_source
from ..capture.radiometry import celsius_to_centikelvin
from ..errors import ConfigError, SourceError
from ..frame import Frame
from ._args import at_least, folder, positive

NAME = "capture"
HELP = "record N frames from a source URI into a folder (PNG, 16-bit PNG, NPY + frames.jsonl)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uri", help="source URI, e.g. v4l2:///dev/video0, uvc-thermal://1, dicom:///export/")
    parser.add_argument("--frames", type=int, default=10, help="frames to record (default 10)")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="source option, repeatable (same as ?KEY=VALUE in the URI)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each frame (default 10)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``["fps=30", "latest=0"]`` → dict; ConfigError naming a pair without ``=``."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {pair!r} must be KEY=VALUE")
        options[key.strip()] = value
    return options


def json_safe(value: Any) -> Any:
    """Meta values as JSON: numpy scalars/arrays to Python, unknown objects to str."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"<array {value.shape} {value.dtype}>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_frame(frame: Frame, out_dir: str, stem: str) -> list[str]:
    """Write ``frame`` in the file type its format calls for; return the file names."""
    fmt, image = frame.format, frame.image
    if fmt == "celsius32":
        np.save(os.path.join(out_dir, stem + ".npy"), image)
        names = [stem + ".npy", stem + "_ck.png"]
        image = celsius_to_centikelvin(image)
    elif fmt in ("rgb8", "nv12", "yuyv"):
        image, names = frame.bgr(), [stem + ".png"]
    else:  # gray8, bgr8, y16, xray16: PNG keeps 8 and 16 bits as they are
        names = [stem + ".png"]
    png = os.path.join(out_dir, names[-1])
    if not cv2.imwrite(png, image):
        raise SourceError(f"could not write {png}")
    return names


def prepare_out(out: str) -> None:
    """Create the output folder; ConfigError naming it when it cannot hold a new capture.

    Refused: a path that is a file or lies under one, an unwritable place, and a folder that
    already holds a capture (its ``frames.jsonl`` would be overwritten: lose nothing).
    """
    if os.path.exists(os.path.join(out, "frames.jsonl")):
        raise ConfigError(f"--out {out!r} already holds a capture (frames.jsonl); give a new or empty folder")
    folder("--out", out)


def run(args: argparse.Namespace) -> int:
    """Record the frames; exit 0 when at least one was written, 1 (saying why) when none was."""
    at_least("--frames", args.frames)
    positive("--timeout", args.timeout)
    options: dict[str, Any] = parse_options(args.option)
    from tqdm import tqdm

    written = 0
    with open_source(args.uri, **options) as source:
        prepare_out(args.out)  # after the source opened: a bad URI leaves no empty folder behind
        with open(os.path.join(args.out, "frames.jsonl"), "w", encoding="utf-8") as index:
            bar = tqdm(total=args.frames, unit="frame", disable=args.no_progress, desc="capture")
            while written < args.frames:
                frame = source.read(timeout=args.timeout)
                if frame is None:
                    if source.finished:
                        break
                    raise SourceError(f"{args.uri}: no frame within {args.timeout:g} s")
                stem = f"{written:06d}"
                try:
                    files = write_frame(frame, args.out, stem)
                except OSError as exc:
                    raise ConfigError(
                        f"--out {args.out!r}: cannot write frame {stem}: {exc.strerror}"
                    ) from None
                record = {
                    "files": files,
                    "seq": frame.seq,
                    "format": frame.format,
                    "shape": list(frame.image.shape),
                    "t_capture_ns": frame.t_capture,
                    "meta": json_safe(frame.meta),
                }
                index.write(json.dumps(record) + "\n")
                written += 1
                bar.update(1)
            bar.close()
        stats = source.stats()
    with open(os.path.join(args.out, "stats.json"), "w", encoding="utf-8") as fh:
        json.dump(json_safe(stats), fh, indent=2)
    p99 = stats.get("age_ms_p99")
    print(
        f"wrote {written} frames to {args.out} (captured {stats['captured']}, dropped {stats['dropped']}, "
        f"{stats['fps']:.1f} fps, age p99 {p99 if p99 is None else round(p99, 1)} ms)"
    )
    if written == 0:
        skipped = stats.get("skipped", 0)
        why = f"; {skipped} input(s) skipped, see the warnings above" if skipped else ""
        print(f"biogate capture: error: {args.uri} ended without delivering a frame{why}", file=sys.stderr)
        return 1
    if written < args.frames:
        print(f"the source ended after {written} of {args.frames} frames")
    return 0
