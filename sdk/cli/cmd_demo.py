"""``biogate demo``: the main job on a simulated walk-up, end to end, with no camera and no gate.

    biogate demo --prepare DIR     # training machine (torch): the kiosk's bundles + the visitors
    biogate demo --bundles DIR     # any machine with the device dependencies only
    biogate demo                   # both at once, into the cache (needs torch)
    biogate demo --select          # frame selection only

Enrols the demo identities, starts the gate firmware simulator on a pseudo-terminal and runs
the kiosk on ``synthetic://walkup`` (:mod:`biogate.kiosk.demo`); exits 0 only if every decision
was the expected one. Building the folder is the training side's job
(:mod:`biogate.exporters.convert.demo_bundles`), imported only for ``--prepare`` or when no
``--bundles`` is given.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ..errors import BackendUnavailable
from ._args import at_least, folder, positive

NAME = "demo"
HELP = "run the kiosk main job on a simulated walk-up (no camera, no gate needed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--select", action="store_true", help="only the frame-selection demo")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--bundles", metavar="DIR", help="prepared folder (biogate demo --prepare DIR)")
    where.add_argument(
        "--prepare", metavar="DIR", help="build the bundles and visitors into DIR and stop (needs torch)"
    )
    parser.add_argument("--fps", type=float, default=15.0, help="walk-up frame rate (default 15)")
    parser.add_argument(
        "--no-liveness",
        action="store_true",
        help="without the RGB liveness model (the thermal skin check still decides)",
    )
    parser.add_argument(
        "--workdir", help="keep the gallery, keys and audit log here (default: a temp folder)"
    )
    parser.add_argument(
        "--cache", help="where a folder prepared without --bundles is kept (~/.cache/biogate)"
    )
    parser.add_argument("--every", type=int, default=3, help="--select: frame interval (default 3)")
    parser.add_argument("--top", type=int, default=3, help="--select: frames to keep (default 3)")


def _prepare(folder: Path | None, cache: str | None, liveness: bool) -> Path:
    from ..kiosk.demo import HOW_TO_PREPARE, KIOSK_MODELS

    if importlib.util.find_spec("torch") is None:
        raise BackendUnavailable(
            "torch", "train", why=f"preparing the demo's bundles needs it; {HOW_TO_PREPARE}"
        )
    from ..exporters.convert.demo_bundles import cached_folder, prepare

    return prepare(folder or cached_folder(cache), KIOSK_MODELS if liveness else KIOSK_MODELS[:-1])


def run(args: argparse.Namespace) -> int:
    at_least("--every", args.every)
    at_least("--top", args.top)
    positive("--fps", args.fps, maximum=120.0)
    folder("--workdir", args.workdir)
    folder("--cache", args.cache)
    folder("--prepare", args.prepare)
    folder("--bundles", args.bundles, create=False)
    if args.select:
        from ..demo_select import run_demo

        return run_demo(every=args.every, top=args.top)
    liveness = not args.no_liveness
    if args.prepare:
        ready = _prepare(Path(args.prepare), None, liveness)
        print(f"demo folder ready: {ready} (copy it to a device and run `biogate demo --bundles {ready}`)")
        return 0
    from ..kiosk.demo import run_kiosk_demo

    prepared = Path(args.bundles) if args.bundles else _prepare(None, args.cache, liveness)
    return run_kiosk_demo(prepared, args.workdir, fps=args.fps, liveness=liveness)
