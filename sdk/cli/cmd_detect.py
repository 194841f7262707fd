"""``biogate detect IMAGE|URI``: find the faces in one picture, at any orientation.

    biogate detect photo.jpg
    biogate detect photo.jpg --rotate upright --json faces.json --draw faces.png
    biogate detect synthetic://face --bundles bundles

For technicians and integrators checking a camera or a photograph.  ``IMAGE`` is an image file;
a ``URI`` is any capture source (``v4l2:///dev/video0``, ``file://clip.mp4``, ``synthetic://face``,
...), of which the first frame is used.  With no ``--bundles`` the default detector's bundles are
taken from the cache (``$BIOGATE_CACHE`` or ``~/.cache/biogate``), built there first when the
training extra is installed (as ``biogate demo`` does).

Prints one line per face; ``--json OUT`` writes ``{"faces": [{"box": [x0, y0, x1, y1], "quad":
[[x, y] x4], "landmarks": [[x, y] x5], "score": s}, ...]}`` in the input image's pixel coordinates
(quad: the upright face's top-left vertex first); ``--draw OUT.png`` writes the picture with
boxes, quads (top edge thicker) and landmarks.  Exit status: 0 faces found, 4 no face, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

NAME = "detect"
HELP = "find the faces in an image or a source's first frame, at any orientation"
EXIT_NO_FACE = 4
DETECTOR_BUNDLES = ("face_detect_any", "mtcnn_rnet", "mtcnn_onet", "face_orient")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="IMAGE|URI", help="image file or capture source URI")
    parser.add_argument(
        "--rotate", choices=("upright", "any"), default="any", help="face orientations to find"
    )
    parser.add_argument(
        "--bundles", metavar="DIR", help="folder with the detector bundles (default: the cache)"
    )
    parser.add_argument("--min-face", type=float, default=40.0, help="smallest face side to find, pixels")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="write the faces as JSON here")
    parser.add_argument("--draw", metavar="OUT.png", help="write the picture with the faces drawn")
    parser.add_argument("--precision", default="auto", help="engine precision: auto, fp32, fp16, int8")


def read_source(source: str) -> np.ndarray:
    """RGB uint8 image of an image file, or of the first frame of a capture source URI."""
    import cv2

    from ..frame import to_rgb8

    if "://" not in source:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"{source!r} is not a file (give an image file or a source URI)")
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ConfigError(f"{source!r} is not an image OpenCV can read")
        if image.ndim == 3 and image.shape[2] == 4:  # a cut-out: shown on white
            alpha = image[:, :, 3:4].astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)
            top = 65535.0 if image.dtype == np.uint16 else 255.0
            image = (image[:, :, :3] * alpha + top * (1 - alpha)).astype(image.dtype)
        return to_rgb8(image, "BGR")
    from ..capture import open_source

    with open_source(source, timeout_s=10.0) as src:
        for frame in src:
            return to_rgb8(frame)
    raise ConfigError(f"{source!r} gave no frame")


def default_bundles(log: Any = print) -> Path:
    """The cache folder holding the default detector's bundles, built there when possible."""
    cache = Path(os.environ.get("BIOGATE_CACHE") or Path.home() / ".cache" / "biogate")
    if importlib.util.find_spec("torch") is not None:  # training side installed: export them
        from biogate.exporters.convert.demo_bundles import build_bundles, cached_folder

        log(f"detector bundles: checking/building in {cache} (first time: a few minutes)")
        return build_bundles(cached_folder(cache), DETECTOR_BUNDLES, log=log)
    for folder in sorted(cache.glob("demo-*"), key=lambda p: p.stat().st_mtime, reverse=True):
        if all((folder / name / "manifest.json").is_file() for name in DETECTOR_BUNDLES):
            return folder
    raise ConfigError(
        f"no detector bundles in {cache}: pass --bundles DIR, or install the training extra "
        "(pip install 'biogate[train]') so they can be built"
    )


def faces_json(faces: list) -> dict:
    """The ``--json`` document of a list of :class:`~biogate.models.face_detect.FaceDetection`."""

    def pts(a: Any) -> list:
        return [[round(float(x), 2), round(float(y), 2)] for x, y in np.asarray(a).reshape(-1, 2)]

    return {
        "faces": [
            {
                "box": [round(float(v), 2) for v in f.box],
                "quad": pts(f.quad),
                "landmarks": pts(f.landmarks) if f.landmarks is not None else [],
                "score": round(float(f.score), 4),
            }
            for f in faces
        ]
    }


def draw(image: np.ndarray, faces: list) -> np.ndarray:
    """BGR picture with each face's box (thin), quad (top edge thick) and landmarks."""
    import cv2

    out = np.ascontiguousarray(image[:, :, ::-1])
    thick = max(1, round(max(image.shape[:2]) / 600))
    for f in faces:
        x0, y0, x1, y1 = (round(float(v)) for v in f.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (200, 200, 200), 1)
        q = np.round(np.asarray(f.quad)).astype(np.int32)
        cv2.polylines(out, [q.reshape(-1, 1, 2)], True, (0, 255, 0), thick)
        cv2.line(out, tuple(int(v) for v in q[0]), tuple(int(v) for v in q[1]), (0, 0, 255), 2 * thick + 1)
        if f.landmarks is not None:
            for x, y in np.asarray(f.landmarks):
                cv2.circle(out, (round(x), round(y)), thick + 1, (255, 0, 0), -1)
        cv2.putText(
            out,
            f"{f.score:.2f}",
            (x0, max(10, y0 - 3)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thick,
            (0, 255, 0),
            thick,
        )
    return out


def run(args: argparse.Namespace) -> int:
    import cv2

    from ..models.face_detectors import load_face_detector

    image = read_source(args.source)
    bundles = Path(args.bundles) if args.bundles else default_bundles()
    for name in DETECTOR_BUNDLES:
        if not (bundles / name / "manifest.json").is_file():
            raise ConfigError(f"{bundles} has no {name} bundle (needed by the face detector)")
    opts = {} if args.precision == "auto" else {"precision": args.precision}
    # A technician's look decides nothing at a door: an unfit bundle still runs, and says so.
    detector = load_face_detector(
        bundles, "any", rotate=args.rotate, min_face=args.min_face, require_fit=False, **opts
    )
    for verdict in getattr(detector, "verdicts", []):
        if not verdict.fit:
            print(f"note: {verdict.message()}")
    t0 = time.perf_counter()
    faces = detector.detect(image)
    ms = (time.perf_counter() - t0) * 1e3
    h, w = image.shape[:2]
    print(f"{args.source}: {w}x{h}, {len(faces)} face(s) in {ms:.0f} ms (rotate={args.rotate})")
    for i, f in enumerate(faces):
        angle = f.extra.get("angle", 0.0)
        box = ", ".join(f"{v:.0f}" for v in f.box)
        print(f"  face {i}: box [{box}] angle {angle:+.0f} deg score {f.score:.3f}")
    try:
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(faces_json(faces), indent=1))
        if args.draw and not cv2.imwrite(str(args.draw), draw(image, faces)):
            raise ConfigError(f"cannot write the picture to {args.draw!r} (use a .png or .jpg name)")
    except OSError as exc:
        raise ConfigError(f"cannot write output: {exc}") from None
    except cv2.error as exc:
        raise ConfigError(f"cannot write the picture to {args.draw!r}: {exc.msg.strip()}") from None
    return 0 if faces else EXIT_NO_FACE


__all__ = ["default_bundles", "draw", "faces_json", "read_source"]
