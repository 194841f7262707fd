"""``biogate enroll``: add a person to an encrypted face gallery from face photos.

    biogate enroll --gallery faces.db --id E042 --name "Ada Lovelace" ada1.jpg ada2.png
    biogate enroll --gallery faces.db --id E042 --name "Ada Lovelace" --embeddings ada.npy

Each photo must show exactly one face (``--largest-face`` takes the biggest one instead); it is
detected with MTCNN, aligned to dlib's 150×150 chip and embedded with the project's dlib
ResNet bundle (:mod:`biogate.models`).  The gallery key comes from ``--key-file`` or the
``BIOGATE_GALLERY_KEY`` environment variable (make one with ``biogate gallery keygen``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ConfigError, GalleryError
from ..gallery import KEY_ENV, LOCK_TIMEOUT_S, Gallery, GalleryKey
from ._args import face_bundle_arguments, load_array

NAME = "enroll"
HELP = "enrol a person into an encrypted face gallery from face photos (or precomputed embeddings)"

#: ``embed(paths) -> (n, dim)`` float array: one template per photo.
EmbedFn = Callable[[Sequence[str]], np.ndarray]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="*", metavar="IMG", help="face photos (one face each)")
    parser.add_argument(
        "--gallery", required=True, metavar="DB", help="gallery database (created if missing)"
    )
    parser.add_argument(
        "--id", required=True, dest="identity_id", help="the person's unique id (badge, employee no.)"
    )
    parser.add_argument("--name", required=True, help="display name")
    parser.add_argument(
        "--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata (repeatable)"
    )
    parser.add_argument("--key-file", metavar="PATH", help=f"gallery key file (default: ${KEY_ENV})")
    parser.add_argument("--add", action="store_true", help="add templates to an identity already enrolled")
    parser.add_argument(
        "--embeddings", metavar="NPY", help="enrol these (n, dim) embeddings instead of photos"
    )
    face_bundle_arguments(parser)
    parser.add_argument(
        "--largest-face", action="store_true", help="use the largest face of a photo with several"
    )
    parser.add_argument(
        "--rotate",
        choices=("any", "upright"),
        default="any",
        help="face orientations to find (see biogate detect)",
    )
    parser.add_argument(
        "--lock-timeout",
        type=lock_timeout,
        default=LOCK_TIMEOUT_S,
        metavar="S",
        help=f"wait this long for another process's lock on the gallery (default {LOCK_TIMEOUT_S:g})",
    )


def lock_timeout(text: str) -> float:
    """``--lock-timeout``: seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.0 <= value < 1e6:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, got {text}")
    return value


def parse_meta(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; values that parse as JSON (numbers, true) keep their type."""
    meta: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--meta {item!r} is not KEY=VALUE")
        try:
            meta[key] = json.loads(value)
        except ValueError:
            meta[key] = value
    return meta


def face_pipeline_embedder(
    bundles: str, embedder: str | None = None, largest_face: bool = False, rotate: str = "any"
) -> EmbedFn:
    """The project's detect → align → embed chain over photo files, as an :data:`EmbedFn`."""
    from ..models import FaceChain

    chain = FaceChain.from_bundles(bundles, embedder, rotate=rotate, min_face=20.0)
    return lambda paths: embed_photos(paths, chain.detector, chain.embedder, largest_face)


def _check_photo(path: str) -> None:
    if Path(path).is_dir():
        raise ConfigError(f"photo {path!r} is a folder; give the image files in it (e.g. {path}/*.jpg)")
    if not Path(path).is_file():
        raise ConfigError(f"photo {path!r} does not exist")


def read_photo(path: str) -> np.ndarray:
    """A photo as stored (8/16-bit, grey or BGR), or one clear error naming the file."""
    import cv2

    _check_photo(path)
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ConfigError(f"{path!r} is not an image OpenCV can read")
    return image


def embed_photos(
    paths: Sequence[str], detector: Any, embedder: Any, largest_face: bool = False
) -> np.ndarray:
    """One embedding per photo with ``detector.detect`` and ``embedder.embed`` (see :mod:`biogate.models`)."""
    from tqdm import tqdm

    from ..models.face_chain import FaceChain

    chain = FaceChain(detector, embedder)
    out: list[np.ndarray] = []
    for path in tqdm(paths, desc="embedding", unit="photo", disable=len(paths) < 3):
        image = read_photo(path)
        faces = chain.faces(image, order="BGR")  # largest first
        if not faces:
            raise GalleryError(f"no face found in {path!r}")
        if len(faces) > 1 and not largest_face:
            raise GalleryError(
                f"{len(faces)} faces in {path!r}; enrolment needs one (or pass --largest-face)"
            )
        out.append(np.asarray(chain.embed(image, faces[0], order="BGR").embedding, np.float32))
    return np.stack(out)


def templates_from_args(args: argparse.Namespace, embed: EmbedFn | None = None) -> np.ndarray:
    """The templates ``args`` name: ``--embeddings NPY`` or face photos run through ``embed``."""
    if bool(args.images) == bool(args.embeddings):
        raise ConfigError("give face photos or --embeddings NPY (exactly one of them)")
    if args.embeddings:
        return load_array("embeddings", args.embeddings)
    for path in args.images:  # fail on a typo before loading any model
        _check_photo(path)
    embed = embed or face_pipeline_embedder(
        args.bundles, args.embedder, args.largest_face, getattr(args, "rotate", "any")
    )
    return embed(list(args.images))


def enroll(args: argparse.Namespace, embed: EmbedFn | None = None) -> dict[str, Any]:
    """Enrol per ``args``; ``embed`` replaces the face pipeline (tests, other embedders)."""
    if bool(args.images) == bool(args.embeddings):
        raise ConfigError("give face photos or --embeddings NPY (exactly one of them)")
    key = GalleryKey.resolve(args.key_file)
    meta = parse_meta(args.meta)
    templates = templates_from_args(args, embed)
    timeout = getattr(args, "lock_timeout", LOCK_TIMEOUT_S)
    with Gallery(args.gallery, key, create=not args.add, lock_timeout_s=timeout) as gallery:
        if args.add:
            if meta:
                raise ConfigError("--meta only applies when enrolling a new identity")
            gallery.add_templates(args.identity_id, templates)
        else:
            gallery.enroll(args.identity_id, args.name, templates, meta)
        person = gallery.get(args.identity_id)
        return {
            "id": person.id,
            "name": person.name,
            "templates": person.n_templates,
            "gallery": args.gallery,
            "identities": len(gallery),
        }


def run(args: argparse.Namespace) -> int:
    result = enroll(args)
    print(
        f"enrolled {result['id']} ({result['name']}): {result['templates']} template(s); "
        f"{result['identities']} identities in {result['gallery']}"
    )
    return 0
