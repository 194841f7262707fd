"""``biogate run --config kiosk.toml``: the access-control kiosk on real devices."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

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


def run(args: argparse.Namespace) -> int:
    from ..kiosk.app import build_kiosk
    from ..kiosk.config import load_config

    config = load_config(args.config)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    kiosk = build_kiosk(config, on_decision=_print_decision)
    for line in kiosk.notices:  # overrides in force (every audit record carries them) and notes
        print(f"biogate run: {line}", file=sys.stderr, flush=True)
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
    return 0
