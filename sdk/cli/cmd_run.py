"""``biogate run --config kiosk.toml``: the access-control kiosk on real devices."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from ._args import non_negative, positive

NAME = "run"
HELP = "run the kiosk pipeline configured by a TOML file (camera → models → gate)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="kiosk.toml (see docs/kiosk.md)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument(
        "--stats-every", type=float, default=10.0, help="print latency stats every N s (0 = never)"
    )


def _print_decision(record) -> None:
    d = record.decision
    print(
        f"{time.strftime('%H:%M:%S')} {d.action.upper():<6} {d.identity or 'unknown':<20} "
        f"{'; '.join(d.reasons)}  [{record.latencies_ms['capture_to_gate']:.0f} ms]",
        flush=True,
    )


def check_arguments(args: argparse.Namespace) -> None:
    """ConfigError for a ``--duration``/``--stats-every`` that is not a finite number in range."""
    positive("--duration", args.duration)
    non_negative("--stats-every", args.stats_every)


def run(args: argparse.Namespace) -> int:
    from ..kiosk.app import build_kiosk
    from ..kiosk.config import load_config

    check_arguments(args)
    config = load_config(args.config)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    kiosk = build_kiosk(config, on_decision=_print_decision)
    for notice in kiosk.notices:  # the start-up banner: what decides, and every override
        print(f"biogate run: {args.config}: {notice}", flush=True)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with kiosk:
        last = time.monotonic()
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if not any(t.is_alive() for t in kiosk.pipeline._threads):
                break  # a finite source (file://, dir://) has ended
            stop.wait(0.2)
            if args.stats_every and time.monotonic() - last >= args.stats_every:
                last = time.monotonic()
                stats = kiosk.stats()
                print(
                    json.dumps(
                        {
                            "capture_to_gate": stats["capture_to_gate"],
                            "frame_age_at_decision": stats["frame_age_at_decision"],
                            "errors": stats["errors"],
                        }
                    ),
                    flush=True,
                )
    return _exit_status(kiosk.stats())


def _exit_status(stats: dict) -> int:
    """0, or 1 with one line on stderr when the source failed or never delivered a frame."""
    if stats["errors"].get("source"):
        failure = next(
            (e for e in reversed(stats["recent_errors"]) if e.startswith("source:")), "source failed"
        )
        print(f"biogate run: error: {failure}", file=sys.stderr)
        return 1
    if stats["frames_in"] == 0:
        print("biogate run: error: the source delivered no frames", file=sys.stderr)
        return 1
    return 0
