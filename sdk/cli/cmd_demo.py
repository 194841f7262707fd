"""``biogate demo``: the main job on generated data, end to end, with no camera and no gate."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "run the main job on a generated clip (no camera, no gate needed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--every", type=int, default=3, help="frame interval for selection (default 3)")
    parser.add_argument("--top", type=int, default=3, help="frames to keep (default 3)")


def run(args: argparse.Namespace) -> int:
    from ..demo_select import run_demo

    return run_demo(every=args.every, top=args.top)
