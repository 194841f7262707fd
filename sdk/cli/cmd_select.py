"""``biogate select CLIP``: the sharpest frames of a video file or image folder (seed 000 S102)."""

from __future__ import annotations

import argparse
import json
import time

from ..clip import read_clip
from ..errors import ConfigError
from ..select import MAX_STEP, FrameSelector
from ..sharpness import METRICS
from ._args import at_least, positive

NAME = "select"
HELP = "pick the sharpest frames of a video file or image folder"


def parse_roi(text: str | None) -> tuple[int, int, int, int] | None:
    """``"x,y,w,h"`` → a tuple of four ints, or ``None``."""
    if text is None:
        return None
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--roi must be x,y,w,h in pixels, got {text!r}") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise ConfigError(f"--roi x,y,w,h needs x, y >= 0 and w, h >= 1, got {text!r}")
    return x, y, w, h


def check_arguments(args: argparse.Namespace) -> None:
    """ConfigError naming the flag: counts >= 1, --step within the kernels' limit, rates > 0."""
    at_least("--every", args.every)
    at_least("--top", args.top)
    at_least("--step", args.step)
    if args.step > MAX_STEP:
        raise ConfigError(f"--step must be <= {MAX_STEP}, got {args.step}")
    positive("--fps", args.fps)
    positive("--window", args.window)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", help="video file or folder of images")
    parser.add_argument("--every", type=int, default=3, help="frame interval (default 3)")
    parser.add_argument("--top", type=int, default=3, help="how many frames to keep (default 3)")
    parser.add_argument("--metric", choices=METRICS, default="laplacian")
    parser.add_argument(
        "--window", type=float, default=None, help="capture-time window in s (default: whole clip)"
    )
    parser.add_argument("--roi", help="score only this region: x,y,w,h")
    parser.add_argument("--step", type=int, default=1, help="decimation of the scored grid")
    parser.add_argument("--fps", type=float, default=None, help="clip frame rate when the file has none")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    selector = FrameSelector(
        args.metric,
        every=args.every,
        window_s=args.window,
        top_k=args.top,
        roi=parse_roi(args.roi),
        step=args.step,
    )
    offered = 0
    score_ns = 0
    for frame in read_clip(args.clip, fps=args.fps):
        offered += 1
        t0 = time.perf_counter_ns()
        selector.push(frame)
        score_ns += time.perf_counter_ns() - t0
    sampled = selector.scored()
    best = selector.best()
    if args.json:
        print(
            json.dumps(
                {
                    "clip": args.clip,
                    "frames": offered,
                    "sampled": len(sampled),
                    "metric": args.metric,
                    "kept": [
                        {"index": s.index, "t_ms": s.frame.t_capture / 1e6, "score": s.score} for s in best
                    ],
                },
                indent=2,
            )
        )
        return 0
    print(
        f"{args.clip}: {offered} frames, {len(sampled)} sampled (every {args.every}), metric {args.metric}, "
        f"{score_ns / max(len(sampled), 1) / 1e6:.3f} ms per sampled frame"
    )
    print(f"{'rank':>4} {'frame':>6} {'t (ms)':>9} {'score':>12}")
    for rank, s in enumerate(best, 1):
        print(f"{rank:>4} {s.index:>6} {s.frame.t_capture / 1e6:>9.1f} {s.score:>12.2f}")
    return 0
