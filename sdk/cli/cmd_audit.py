"""``biogate audit``: privacy audits of what the SDK stores.

    biogate audit inversion --encoder bundles/face_embed_dlib --gallery faces.db --mode blackbox
    biogate audit inversion --encoder bundles/face_embed_dlib --templates t.npz --mode whitebox

``inversion`` (seed 003, issue #11) rebuilds faces from the stored templates, re-embeds them with
the encoder bundle and reports the success attack rate: the share of reconstructions the system's
own matcher accepts as the template's owner, at the operating threshold and at FMR 1e-3, with the
mean face of the attack's training set as the baseline; it writes ``inversion_audit.json`` and
``inversion_grid.png`` to ``--out``.  The attacks run on the training side (torch): this module
imports it only when the command runs, and a device install without the ``train`` extra gets one
clear line.  See docs/inversion.md.
"""

from __future__ import annotations

import argparse

from .._lazy import lazy_import
from ..gallery import KEY_ENV

NAME = "audit"
HELP = "privacy audits: can faces be rebuilt from the stored templates? (inversion)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit", metavar="AUDIT")
    sub.required = True
    inv = sub.add_parser(
        "inversion", help="template inversion attack (black box / white box) and its success rate"
    )
    inv.add_argument(
        "--encoder", required=True, metavar="BUNDLE", help="the embedder bundle (face_embed_dlib)"
    )
    src = inv.add_mutually_exclusive_group(required=True)
    src.add_argument("--gallery", metavar="DB", help="an encrypted gallery database")
    src.add_argument(
        "--templates",
        metavar="FILE",
        help="templates: .npy (N, d) or .npz with 'templates' [+ 'names', 'chips']",
    )
    inv.add_argument("--key-file", metavar="PATH", help=f"gallery key file (default: ${KEY_ENV})")
    inv.add_argument(
        "--transform-key-file", metavar="PATH", help="cancelable-transform key of a protected gallery"
    )
    inv.add_argument(
        "--mode", default="blackbox", choices=("blackbox", "whitebox", "both"), help="attacker knowledge"
    )
    inv.add_argument(
        "--inverter", metavar="PT", help="inverse-model weights (default: the shipped inversion_dlib128.pt)"
    )
    inv.add_argument(
        "--out", default="audit_inversion", metavar="DIR", help="report folder (JSON + PNG grid)"
    )
    inv.add_argument(
        "--threshold", type=float, help="operating cosine threshold (default: the encoder bundle's)"
    )
    inv.add_argument("--fmr", type=float, default=1e-3, help="second threshold, at this false-match rate")
    inv.add_argument(
        "--calibration",
        metavar="NPZ",
        help="impostor set for the FMR threshold: npz with 'embeddings' and 'labels' "
        "(default: the offline real-face identities, embedded by --encoder)",
    )
    inv.add_argument("--limit", type=int, metavar="N", help="audit only the first N templates")
    wb = inv.add_argument_group("white box (S103 latent optimisation)")
    wb.add_argument("--iterations", type=int, default=100, help="optimisation steps per template")
    wb.add_argument("--lr", type=float, default=0.05, help="step size")
    wb.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    wb.add_argument("--loss", default="cosine", choices=("cosine", "cosine+l2"))
    wb.add_argument(
        "--latent", default="input", choices=("input", "projection"), help="which generator latent"
    )
    wb.add_argument("--prior", type=float, default=0.0, help="weight of the latent-norm regulariser")
    inv.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    lazy_import("torch", "train")  # one clear line on a device install without the training side
    audit = lazy_import("biogate.exporters.audit.cli", "train")
    return int(audit.run_inversion(args))
