"""The training-side half of ``biogate audit inversion`` (the device CLI imports it only when run)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from biogate.errors import ConfigError, GalleryError

from .data import Encoder, build_identities, embed, engine_encoder
from .metrics import PlainMatcher, ProtectedMatcher, protected_threshold, unit
from .report import Templates, load_attacker, print_table, run_audit

DEFAULT_INVERTER = Path(__file__).resolve().parents[1] / "weights" / "inversion_dlib128.pt"


def read_templates(path: str) -> Templates:
    """``.npy`` (N, d) plain templates, or ``.npz`` with ``templates`` and optional ``names``/``chips``."""
    try:
        blob = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read templates {path!r}: {exc}") from exc
    if isinstance(blob, np.ndarray):
        stored, names, chips = blob, None, None
    else:
        with blob:
            if "templates" not in blob.files:
                raise ConfigError(
                    f"templates file {path!r} has no 'templates' array (it has: {', '.join(blob.files)})"
                )
            stored = blob["templates"]
            names = [str(n) for n in blob["names"]] if "names" in blob.files else None
            chips = blob["chips"] if "chips" in blob.files else None
    stored = np.atleast_2d(np.asarray(stored, np.float32))
    if stored.ndim != 2 or len(stored) == 0 or not np.isfinite(stored).all():
        raise ConfigError(f"templates in {path!r} must be a finite (N, d) array, got shape {stored.shape}")
    names = names or [f"t{i}" for i in range(len(stored))]
    if chips is not None and chips.shape[1:] != (150, 150, 3):
        raise ConfigError(f"'chips' in {path!r} must be (N, 150, 150, 3) RGB, got {chips.shape}")
    return Templates(unit(stored), names, unit(stored), chips)


def read_gallery(path: str, key_file: str | None, transform_key_file: str | None):
    """Every stored template of a gallery (protected ones as stored) and its transform, if any."""
    from biogate.gallery import Gallery, GalleryKey

    if not Path(path).is_file():
        raise GalleryError(f"gallery {path!r} does not exist")
    tkey = GalleryKey.from_file(transform_key_file) if transform_key_file else None
    with Gallery(path, GalleryKey.resolve(key_file), transform_key=tkey) as gallery:
        names, rows = [], []
        for identity in gallery.identities():
            t = gallery.templates(identity.id)
            rows.append(t)
            names += [identity.id] * len(t)
        transform = gallery.transform
    if not rows:
        raise GalleryError(f"gallery {path!r} holds no templates to audit")
    stored = np.concatenate(rows)
    plain = None if transform is not None else unit(stored)
    return Templates(stored if transform is not None else unit(stored), names, plain, None), transform


def load_calibration(path: str | None, encoder: Encoder) -> tuple[np.ndarray, np.ndarray]:
    """Impostor/genuine set for thresholds: a saved npz, or the offline identities embedded now."""
    if path:
        try:
            with np.load(path, allow_pickle=False) as f:
                return unit(f["embeddings"]), np.asarray(f["labels"])
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(
                f"cannot read calibration set {path!r} (needs 'embeddings' and 'labels'): {exc}"
            ) from exc
    ids = build_identities()
    return embed(encoder, ids.chips, progress=True), ids.labels


def check_white_box(bundle, engine, white_encoder) -> None:
    """The PyTorch encoder must be the bundle's network: compare both on two real chips."""
    import torch

    from .data import build_identities as _ids

    if bundle.manifest.get("name") != "face_embed_dlib":
        raise ConfigError(
            "white-box mode knows the differentiable form of face_embed_dlib only, "
            f"not {bundle.manifest.get('name')!r}"
        )
    chips = _ids(views_photo=0, views_lfw=0, lfw=False).chips[:2]
    ours = engine_encoder(engine)(chips)
    with torch.no_grad():
        theirs = white_encoder(
            torch.from_numpy(np.ascontiguousarray(chips.transpose(0, 3, 1, 2), np.float32))
        ).numpy()
    if float(np.min(np.sum(unit(ours) * unit(theirs), axis=1))) < 0.999:
        raise ConfigError("the PyTorch rebuild of the encoder does not reproduce the bundle's embeddings")


def run_inversion(args: argparse.Namespace) -> int:
    """Audit a gallery or a templates file; prints a table (or JSON), writes the report folder."""
    from biogate import engine as engine_mod
    from biogate.bundle import open_bundle
    from biogate.gallery import threshold_from_manifest

    bundle = open_bundle(args.encoder)
    engine = engine_mod.load(args.encoder, backend="onnxruntime", precision="fp32")
    encoder = engine_encoder(engine)
    modes = ["blackbox", "whitebox"] if args.mode == "both" else [args.mode]
    inverter = Path(args.inverter) if args.inverter else DEFAULT_INVERTER
    if not inverter.is_file():
        raise ConfigError(f"inverse-model weights {str(inverter)!r} not found")
    attacker = load_attacker(
        inverter,
        white_encoder="whitebox" in modes,
        iterations=args.iterations,
        lr=args.lr,
        optimizer=args.optimizer,
        loss=args.loss,
        latent=args.latent,
        prior=args.prior,
    )
    if attacker.white_encoder is not None:
        check_white_box(bundle, engine, attacker.white_encoder)
    if args.gallery:
        templates, transform = read_gallery(args.gallery, args.key_file, args.transform_key_file)
    else:
        templates, transform = read_templates(args.templates), None
    templates = templates.head(args.limit)
    operating = args.threshold if args.threshold is not None else threshold_from_manifest(args.encoder)
    calib = load_calibration(args.calibration, encoder)
    if transform is not None:
        matcher = ProtectedMatcher(transform, threshold=protected_threshold(transform, calib, operating))
    else:
        matcher = PlainMatcher(operating)
    report = run_audit(templates, attacker, encoder, matcher, calib, modes, Path(args.out), args.fmr)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_table(report["results"])
        print(
            f"thresholds: operating {report['threshold_operating']:.4f}, "
            f"FMR {args.fmr:g} {report['threshold_fmr']:.4f} "
            f"(zero-effort impostor accept rate at the operating point {report['zero_effort_rate']:.4f}; "
            f"{report['fmr_calibration_impostor_pairs']} impostor pairs); grid {report['grid']}"
        )
    return 0


__all__ = ["DEFAULT_INVERTER", "load_calibration", "read_gallery", "read_templates", "run_inversion"]
