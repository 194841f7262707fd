"""``biogate demo``: the main job on generated data, end to end, with no camera and no gate.

Builds (or reuses) the model bundles, enrols demo identities, starts the gate firmware
simulator on a pseudo-terminal and runs the kiosk on a scripted walk-up; exits 0 only if every
decision was the expected one.  Needs the training extra (``pip install 'biogate[train]'``)
to build bundles; ``--select`` runs the frame-selection demo alone, which needs nothing more.
"""

from __future__ import annotations

import argparse

from ..errors import BackendUnavailable
from ._args import at_least, folder, positive

NAME = "demo"
HELP = "run the kiosk main job on generated data (no camera, no gate needed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--select", action="store_true", help="only the frame-selection demo")
    parser.add_argument("--fps", type=float, default=15.0, help="walk-up frame rate (default 15)")
    parser.add_argument("--no-liveness", action="store_true", help="skip the liveness model and the attack")
    parser.add_argument(
        "--workdir", help="keep the gallery, keys and audit log here (default: a temp folder)"
    )
    parser.add_argument("--cache", help="where built bundles are kept (default ~/.cache/biogate)")
    parser.add_argument("--every", type=int, default=3, help="--select: frame interval (default 3)")
    parser.add_argument("--top", type=int, default=3, help="--select: frames to keep (default 3)")


def run(args: argparse.Namespace) -> int:
    at_least("--every", args.every)
    at_least("--top", args.top)
    positive("--fps", args.fps, maximum=120.0)
    folder("--workdir", args.workdir)
    folder("--cache", args.cache)
    if args.select:
        from ..demo_select import run_demo

        return run_demo(every=args.every, top=args.top)
    try:
        from ..exporters.kiosk_demo import run_kiosk_demo
    except ImportError as exc:
        raise BackendUnavailable("torch", "train", why=f"the demo builds its model bundles ({exc})") from exc
    return run_kiosk_demo(args.workdir, fps=args.fps, cache=args.cache, liveness=not args.no_liveness)
