"""``biogate palm``: the X-ray palm scanner (seed 001) — scan, simulate, and the hard-example loop.

::

    biogate palm scan dicom:///data/export/ --sr bundles/palm_sr --liveness bundles/palm_liveness --log log/
    biogate palm simulate sims/ --live 8 --fake 2          # a DICOM DX export folder + labels.csv
    biogate palm feedback --log palm-log/ --labels labels.csv --bundle bundles/palm_liveness

``feedback`` fine-tunes with torch: it needs ``pip install 'biogate[train]'`` and says so otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import ConfigError

NAME = "palm"
HELP = "palm X-ray liveness: scan a source, simulate scans, or fine-tune on field labels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="palm_command", metavar="ACTION")
    scan = sub.add_parser("scan", help="quality check, SR and liveness on every frame of a source")
    scan.add_argument("uri", help="dicom://folder/ or xray-raw://file.raw?w=..&h=.. (any xray16 source)")
    scan.add_argument("--liveness", required=True, help="palm_liveness (or palm_liveness_raw) bundle folder")
    scan.add_argument("--sr", help="palm_sr bundle folder (omit for a raw-image liveness bundle)")
    scan.add_argument("--threshold", type=float, default=None, help="live threshold (default: the bundle's)")
    scan.add_argument("--log", help="decision log folder for the hard-example loop")
    scan.add_argument("--max-frames", type=int, default=None)
    scan.add_argument("--no-quality", action="store_true", help="skip the re-scan check")
    scan.add_argument(
        "--allow-unfit",
        action="store_true",
        help="run a liveness bundle whose own evaluation misses its budget (each decision says so)",
    )
    scan.add_argument("--json", action="store_true", help="one JSON object per decision")

    sim = sub.add_parser("simulate", help="write simulated palm radiographs as a DICOM export folder")
    sim.add_argument("out", help="folder to write IMG*.dcm and labels.csv into")
    sim.add_argument("--live", type=int, default=8, help="live palms")
    sim.add_argument("--fake", type=int, default=2, help="fakes of each kind")
    sim.add_argument("--kinds", nargs="*", default=None, help="fake kinds (default: all)")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--resolution", choices=["lr", "hr"], default="lr")

    fb = sub.add_parser("feedback", help="fine-tune the liveness bundle on labelled field disagreements")
    fb.add_argument("--log", required=True, help="decision log folder written by 'palm scan --log'")
    fb.add_argument("--labels", required=True, help="CSV (id,label) or JSON labelling file")
    fb.add_argument(
        "--bundle", required=True, help="the palm_liveness bundle to improve (replaced if better)"
    )
    fb.add_argument("--weights", help="training checkpoint to start from (default: the bundle's or shipped)")
    fb.add_argument("--iters", type=int, default=150)
    fb.add_argument("--holdout", type=float, default=0.3, help="share of labelled decisions kept for judging")
    fb.add_argument("--dry-run", action="store_true", help="judge the candidate but never replace the bundle")


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "palm_command", None)
    if command == "scan":
        return _scan(args)
    if command == "simulate":
        return _simulate(args)
    if command == "feedback":
        return _feedback(args)
    raise ConfigError("biogate palm needs an action: scan, simulate or feedback")


def _scan(args: argparse.Namespace) -> int:
    from ..models.palm import PalmLiveness, PalmQuality, PalmScanner, PalmSR
    from ..models.palm_log import DecisionLog

    liveness = PalmLiveness.from_bundle(
        args.liveness, threshold=args.threshold, require_fit=not args.allow_unfit
    )
    unfit = [v.message() for v in liveness.verdicts if not v.fit]
    for line in unfit:
        print(
            f"biogate palm: WARNING: UNFIT MODEL DECIDES (allowed by --allow-unfit): {line}", file=sys.stderr
        )
    scanner = PalmScanner(
        liveness,
        PalmSR.from_bundle(args.sr) if args.sr else None,
        None if args.no_quality else PalmQuality(),
        DecisionLog(args.log) if args.log else None,
    )
    for d in scanner.run(args.uri, max_frames=args.max_frames):
        row: dict[str, Any] = {"message": d.message, "source": d.source, "log_id": d.log_id}
        if d.liveness:
            row.update(score=round(d.liveness.score, 4), live=d.liveness.is_live)
        if d.quality.reasons:
            row["rescan"] = d.quality.reasons
        if unfit:
            row["unfit_model"] = liveness.bundle.name if liveness.bundle else "liveness"
        print(
            json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items() if v is not None)
        )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from ..sim import xray as xray_data  # device side: numpy, OpenCV and pydicom, all installed
    from ..sim import xray_dicom

    kinds = args.kinds if args.kinds is not None else list(xray_data.FAKE_KINDS)
    bad = [k for k in kinds if k not in xray_data.FAKE_KINDS]
    if bad:
        raise ConfigError(f"unknown fake kind {bad[0]!r}; valid: {', '.join(xray_data.FAKE_KINDS)}")
    counts = {"live": args.live, **{k: args.fake for k in kinds}}
    rows = xray_dicom.write_folder(args.out, counts, args.seed, resolution=args.resolution)
    print(f"wrote {len(rows)} DICOM files and labels.csv to {args.out}")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from .._lazy import lazy_import

    lazy_import("torch", "train")  # one clear line when the training extra is missing
    palm_feedback = lazy_import("biogate.exporters.training.palm_feedback", "train")
    report = palm_feedback.feedback(
        args.log,
        args.labels,
        args.bundle,
        weights=args.weights,
        iters=args.iters,
        holdout=args.holdout,
        dry_run=args.dry_run,
    )
    print(json.dumps(report.to_json(), indent=1))
    print(("accepted: " if report.accepted else "not replaced: ") + report.reason)
    return 0 if report.accepted else 1
