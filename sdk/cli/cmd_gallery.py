"""``biogate gallery``: keys and day-to-day care of an encrypted face gallery.

    biogate gallery keygen --out /etc/biogate/gallery.key
    biogate gallery list   --gallery faces.db [--json]
    biogate gallery delete --gallery faces.db --id E042
    biogate gallery search --gallery faces.db probe.jpg [-k 5]
    biogate gallery verify --gallery faces.db --id E042 probe.jpg
    biogate gallery threshold --gallery faces.db [--set 0.93 | --clear]
    biogate gallery upgrade --gallery faces.db      # a gallery of biogate before schema 2

A probe is a face photo (embedded like ``biogate enroll`` does) or ``--embedding NPY``.  The
decision threshold is ``--threshold``, else the stricter of the one stored in the gallery
(``threshold --set``, which running kiosks follow within a second) and the embedder bundle's
``thresholds["cosine"]``.
A gallery locked by another process is one error line after ``--lock-timeout`` seconds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..gallery import KEY_ENV, LOCK_TIMEOUT_S, Gallery, GalleryKey, check_threshold, threshold_from_manifest
from ..gallery.migrate import upgrade
from ._args import load_array
from .cmd_enroll import face_pipeline_embedder, lock_timeout

NAME = "gallery"
HELP = "manage an encrypted face gallery: keygen, list, delete, search, verify, threshold, upgrade"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gallery", required=True, metavar="DB", help="gallery database")
    p.add_argument("--key-file", metavar="PATH", help=f"gallery key file (default: ${KEY_ENV})")
    p.add_argument(
        "--lock-timeout",
        type=lock_timeout,
        default=LOCK_TIMEOUT_S,
        metavar="S",
        help=f"wait this long for another process's lock (default {LOCK_TIMEOUT_S:g})",
    )


def _probe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", nargs="?", metavar="IMG", help="probe face photo")
    p.add_argument("--embedding", metavar="NPY", help="probe embedding (dim,) instead of a photo")
    p.add_argument("--threshold", type=float, help="cosine threshold (default: the embedder bundle's)")
    p.add_argument("--bundles", default="bundles", metavar="DIR", help="folder with the face bundles")
    p.add_argument("--embedder", metavar="BUNDLE", help="embedder bundle (default: BUNDLES/face_embed_dlib)")
    p.add_argument("--largest-face", action="store_true", help="use the largest face of the photo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    keygen = sub.add_parser("keygen", help="write a new random gallery key (hex, mode 600)")
    keygen.add_argument("--out", required=True, metavar="PATH", help="key file to create (never overwritten)")
    listing = sub.add_parser("list", help="list enrolled identities")
    _common(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    delete = sub.add_parser("delete", help="delete an identity and all its templates")
    _common(delete)
    delete.add_argument("--id", required=True, dest="identity_id")
    search = sub.add_parser("search", help="1:N — who is this?")
    _common(search)
    _probe_args(search)
    search.add_argument("-k", type=int, default=5, help="how many identities to show")
    verify = sub.add_parser("verify", help="1:1 — is this person ID?")
    _common(verify)
    _probe_args(verify)
    verify.add_argument("--id", required=True, dest="identity_id")
    threshold = sub.add_parser("threshold", help="show, set or clear the threshold stored in the gallery")
    _common(threshold)
    change = threshold.add_mutually_exclusive_group()
    change.add_argument("--set", type=float, metavar="COSINE", help="store this threshold, in (0, 1]")
    change.add_argument("--clear", action="store_true", help="remove the stored threshold")
    upgrading = sub.add_parser("upgrade", help="upgrade a gallery written by biogate before schema 2")
    _common(upgrading)


def _open(args: argparse.Namespace) -> Gallery:
    return Gallery(args.gallery, GalleryKey.resolve(args.key_file), lock_timeout_s=args.lock_timeout)


def _embedder_bundle(args: argparse.Namespace) -> Path:
    return Path(args.embedder or Path(args.bundles) / "face_embed_dlib")


def _probe(args: argparse.Namespace) -> np.ndarray:
    if bool(args.image) == bool(args.embedding):
        raise ConfigError("give a probe photo or --embedding NPY (exactly one of them)")
    if args.embedding:
        return load_array("embedding", args.embedding)
    embed = face_pipeline_embedder(args.bundles, args.embedder, args.largest_face)
    return embed([args.image])[0]


def _threshold(args: argparse.Namespace, gallery: Gallery, required: bool) -> float | None:
    if args.threshold is not None:
        return check_threshold(args.threshold, "--threshold")
    bundle = _embedder_bundle(args)
    stored = gallery.stored_threshold
    if bundle.exists() or (required and stored is None):
        calibrated = threshold_from_manifest(bundle)
        return calibrated if stored is None else max(stored, calibrated)  # stored: stricter only
    return stored


def run(args: argparse.Namespace) -> int:
    if args.action == "keygen":
        path = GalleryKey.generate().write(args.out)
        print(f"wrote a new gallery key to {path} (keep it away from the gallery database)")
        return 0
    if args.action == "upgrade":
        state = upgrade(args.gallery, GalleryKey.resolve(args.key_file), args.lock_timeout)
        print(f"upgraded {args.gallery}: {state.identities} identities, {state.templates} templates")
        return 0
    with _open(args) as gallery:
        if args.action == "list":
            people = gallery.identities()
            if args.json:
                print(json.dumps([p._asdict() for p in people], indent=2))
            else:
                for p in people:
                    print(f"{p.id}\t{p.name}\t{p.n_templates} template(s)\t{json.dumps(p.meta)}")
                print(f"{len(people)} identities, {gallery.n_templates} templates, {gallery.dim}-d")
            return 0
        if args.action == "delete":
            count = gallery.delete(args.identity_id)
            print(f"deleted {args.identity_id} and its {count} template(s)")
            return 0
        if args.action == "threshold":
            if args.set is not None or args.clear:
                gallery.set_threshold(None if args.clear else check_threshold(args.set, "--set"))
            stored = gallery.stored_threshold
            print(
                f"threshold {stored:g}"
                if stored is not None
                else "no threshold stored (the embedder's applies)"
            )
            return 0
        probe = _probe(args)
        if args.action == "search":
            thr = _threshold(args, gallery, required=False)
            matches = gallery.search(probe, k=args.k, threshold=thr)
            for m in matches:
                print(f"{m.identity_id}\t{m.name}\t{m.score:.4f}")
            if not matches:
                print(f"no identity reaches the threshold {thr}")
            if not matches.exact:  # only when the proven shortlist exceeded its cap
                print(
                    f"note: only {matches.shortlist} templates of a longer shortlist were re-ranked; "
                    "scores are exact, the ranking may not be"
                )
            return 0 if matches else 1
        decision: Any = gallery.verify(args.identity_id, probe, _threshold(args, gallery, required=True))
        verdict = "ACCEPT" if decision.accepted else "REJECT"
        print(
            f"{verdict} {args.identity_id}: cosine {decision.score:.4f} (threshold {decision.threshold:.4f})"
        )
        return 0 if decision.accepted else 1
