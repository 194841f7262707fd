"""``biogate identify CLIP_OR_IMAGE --gallery DB``: who is this? (seed 000's identification chain)

    biogate identify visitor.mp4 --gallery faces.db --key-file gallery.key
    biogate identify frames/ --gallery faces.db --json

Chain: frame selection (the sharpest sampled frames of a clip, :class:`biogate.select.FrameSelector`;
a single image is its own frame) → MTCNN detection → dlib 5-point-template alignment to a 150x150
chip → dlib ResNet embedding (:class:`biogate.models.FaceChain`) → 1:N cosine search in the encrypted
gallery.  If the sharpest frame
shows no face the next sharpest is tried.  Prints each face's identity (or ``unknown``), its score
and the latency of every stage.  Exit status: 0 when at least one face was identified, 3 when
faces were found but none matched, 4 when no face was found.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from ..clip import IMAGE_SUFFIXES, read_clip
from ..errors import ConfigError
from ..frame import Frame
from ..kiosk.config import check_match_threshold
from ..select import FrameSelector
from ._args import face_bundle_arguments

log = logging.getLogger(__name__)

NAME = "identify"
HELP = "identify the people in a clip or image against an encrypted face gallery"

EXIT_UNKNOWN = 3
EXIT_NO_FACE = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="CLIP_OR_IMAGE", help="video file, image folder or one image")
    parser.add_argument("--gallery", required=True, metavar="DB", help="gallery database (biogate enroll)")
    parser.add_argument("--key-file", metavar="PATH", help="gallery key file (default: $BIOGATE_GALLERY_KEY)")
    face_bundle_arguments(parser)
    parser.add_argument(
        "--sr", metavar="BUNDLE", help="super-resolve each face first (face_sr bundle, seed 000)"
    )
    parser.add_argument(
        "--refine", metavar="BUNDLE", help="refine the super-resolved face (face_refine bundle)"
    )
    parser.add_argument("--top-k", type=int, default=1, help="gallery matches to show per face")
    parser.add_argument(
        "--threshold", type=float, help="cosine threshold in (0, 1] (default: the embedder bundle's)"
    )
    parser.add_argument(
        "--allow-weak-threshold",
        action="store_true",
        help="accept a --threshold below the bundle's calibrated one (more false matches)",
    )
    parser.add_argument("--every", type=int, default=3, help="sample every N-th frame of a clip (seed: 3)")
    parser.add_argument("--candidates", type=int, default=3, help="sharpest frames to try in turn")
    parser.add_argument("--min-face", type=float, default=40.0, help="smallest face side to detect, pixels")
    parser.add_argument("--detector", choices=("auto", "any", "mtcnn"), default="auto", help="face detector")
    parser.add_argument(
        "--rotate", choices=("any", "upright"), default="any", help="face orientations to find"
    )
    parser.add_argument("--precision", default="auto", help="engine precision: auto, fp32, fp16, int8")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _read_image(path: Path) -> Frame:
    """One image file (8/16-bit, grey/BGR/BGRA) as an ``rgb8`` Frame."""
    import cv2

    from ..frame import to_rgb8

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ConfigError(f"{str(path)!r} is not an image OpenCV can read")
    return Frame(image=to_rgb8(image, "BGR"), format="rgb8", t_capture=0, source=str(path))


def select_frames(source: str, every: int, candidates: int) -> list[Frame]:
    """The frames to try, sharpest first (a single image is its own only frame)."""
    path = Path(source)
    if not path.exists():
        raise ConfigError(f"{source!r} does not exist")
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return [_read_image(path)]
    frames = list(read_clip(path))
    selector = FrameSelector(every=every, window_s=None, top_k=max(1, candidates))
    return [scored.frame for scored in selector.select(frames)]


def identify(
    args: argparse.Namespace,
    detector: Any = None,
    embedder: Any = None,
    gallery: Any = None,
) -> dict[str, Any]:
    """Run the chain per ``args``; ``detector``/``embedder``/``gallery`` replace the defaults (tests)."""
    if args.top_k < 1 or args.candidates < 1 or args.every < 1:
        raise ConfigError("--top-k, --candidates and --every must be >= 1")
    if args.threshold is not None and not 0 < args.threshold <= 1:  # before loading any model
        raise ConfigError(f"--threshold must be a cosine in (0, 1], got {args.threshold:g}")
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    frames = select_frames(args.source, args.every, args.candidates)
    timing["select_ms"] = (time.perf_counter() - t0) * 1e3
    t_load = time.perf_counter()
    from ..models import FaceChain

    resolver, refiner = _enhancer(args) or (None, None)
    if detector is None or embedder is None:
        loaded = FaceChain.from_bundles(
            args.bundles,
            args.embedder,
            face_detector=getattr(args, "detector", "auto"),
            rotate=getattr(args, "rotate", "any"),
            min_face=args.min_face,
            precision=args.precision,
        )
        detector, embedder = detector or loaded.detector, embedder or loaded.embedder
    chain = FaceChain(detector, embedder, resolver, refiner)
    close = gallery is None
    if gallery is None:
        from ..gallery import Gallery, GalleryKey

        gallery = Gallery(args.gallery, GalleryKey.resolve(args.key_file))
    timing["load_ms"] = (time.perf_counter() - t_load) * 1e3  # engines and gallery index, once per process
    threshold, notice = check_match_threshold(
        args.threshold,
        chain.thresholds.get("cosine"),
        bool(getattr(args, "allow_weak_threshold", False)),
        args.embedder or str(Path(args.bundles) / "face_embed_dlib"),
        "--threshold",
        "--allow-weak-threshold",
    )
    if notice.startswith("WEAK"):
        log.warning("%s", notice)
    try:
        return _run_chain(frames, chain, gallery, threshold, args.top_k, timing, t0)
    finally:
        if close:
            gallery.close()


def _enhancer(args: argparse.Namespace) -> tuple | None:
    """``(super-resolver, refiner or None)`` for --sr/--refine, or ``None`` when SR is off."""
    if getattr(args, "refine", None) and not getattr(args, "sr", None):
        raise ConfigError("--refine refines the super-resolved face: give --sr too")
    if not getattr(args, "sr", None):
        return None
    from ..models import Refiner, SuperResolver

    resolver = SuperResolver.from_bundle(args.sr, precision=args.precision)
    refiner = (
        Refiner.from_bundle(args.refine, scheme="mtcnn5", precision=args.precision) if args.refine else None
    )
    return resolver, refiner


def _run_chain(
    frames: list[Frame],
    chain: Any,
    gallery: Any,
    threshold: float | None,
    top_k: int,
    timing: dict[str, float],
    t0: float,
) -> dict[str, Any]:
    faces: list[Any] = []
    used: Frame | None = None
    timing["detect_ms"] = 0.0
    for frame in frames:
        t = time.perf_counter()
        rgb = frame.rgb()
        faces = chain.faces(rgb)
        timing["detect_ms"] += (time.perf_counter() - t) * 1e3
        if faces:
            used = frame
            break
    result: dict[str, Any] = {"frames_tried": len(frames), "faces": [], "timing_ms": timing}
    if used is None:
        timing["total_ms"] = (time.perf_counter() - t0) * 1e3
        return result
    result["frame"] = {"seq": used.seq, "t_capture_ns": used.t_capture, "source": used.source}
    embeddings, steps = chain.embed_many(rgb, faces)  # SR (when on), alignment, one embedding batch
    timing.update(steps)
    t = time.perf_counter()
    for face, emb in zip(faces, embeddings):
        matches = gallery.search(emb, k=top_k, threshold=threshold)
        result["faces"].append(
            {
                "box": [round(float(v), 1) for v in face.box],
                "detection_score": round(float(face.score), 4),
                "identity": matches[0].identity_id if matches else None,
                "name": matches[0].name if matches else None,
                "score": round(float(matches[0].score), 4) if matches else None,
                "matches": [
                    {"id": m.identity_id, "name": m.name, "score": round(float(m.score), 4)} for m in matches
                ],
            }
        )
    timing["match_ms"] = (time.perf_counter() - t) * 1e3
    timing["total_ms"] = (time.perf_counter() - t0) * 1e3
    result["threshold"] = threshold
    return result


def exit_status(result: dict[str, Any]) -> int:
    if not result["faces"]:
        return EXIT_NO_FACE
    return 0 if any(f["identity"] for f in result["faces"]) else EXIT_UNKNOWN


def run(args: argparse.Namespace) -> int:
    result = identify(args)
    if args.json:
        print(json.dumps(result))
        return exit_status(result)
    if not result["faces"]:
        print(f"no face found in the {result['frames_tried']} sharpest frame(s) of {args.source}")
    for i, face in enumerate(result["faces"]):
        who = (
            f"{face['identity']} ({face['name']})  score {face['score']:.3f}"
            if face["identity"]
            else "unknown"
        )
        print(f"face {i}: {who}  box {face['box']}  detection {face['detection_score']:.3f}")
    stages = "  ".join(f"{k[:-3]} {v:.1f} ms" for k, v in result["timing_ms"].items())
    print(f"latency: {stages}")
    return exit_status(result)
