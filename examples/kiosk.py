"""The access-control kiosk on real devices, from one TOML file.

    python examples/kiosk.py --config examples/kiosk.toml
    python examples/kiosk.py --config /etc/biogate/kiosk.toml --duration 60

Camera → sharpest frames → face detection → liveness (the thermal skin check; the RGB model
only when it is fit) → embedding → encrypted gallery match → thermal temperature → policy →
authenticated gate command, with an audit log of every decision.  It refuses to start when a
deciding model is unfit or a bundle is not signed by a trusted key (docs/security.md).
Equivalent to ``biogate run --config FILE``; this script is the readable version to copy into an
integration.  See docs/kiosk.md for every configuration key.
"""

from __future__ import annotations

import argparse
import sys
import time

from biogate.errors import BiogateError
from biogate.kiosk.app import build_kiosk
from biogate.kiosk.config import load_config


def show(record) -> None:
    d = record.decision
    print(
        f"{time.strftime('%H:%M:%S')} {d.action.upper():<6} {d.identity or 'unknown':<20} "
        f"{'; '.join(d.reasons)}  ({record.latencies_ms['capture_to_gate']:.0f} ms from capture)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="kiosk.toml")
    parser.add_argument("--duration", type=float, default=0, help="stop after N seconds (0 = until Ctrl-C)")
    args = parser.parse_args()
    try:
        kiosk = build_kiosk(load_config(args.config), on_decision=show)
    except BiogateError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    for line in kiosk.notices:  # e.g. an unfit model allowed by [models] allow_unfit
        print(f"kiosk: {line}", file=sys.stderr, flush=True)
    t_end = time.monotonic() + args.duration if args.duration else None
    with kiosk:
        try:
            while t_end is None or time.monotonic() < t_end:
                time.sleep(5)
                s = kiosk.stats()
                e2e, age = s["capture_to_gate"], s["frame_age_at_decision"]
                print(
                    f"  [{s['decisions']} decisions; capture→gate p99 {e2e['p99_ms']:.0f} ms; "
                    f"frame age p99 {age['p99_ms']:.0f} ms; errors {s['errors'] or 'none'}]",
                    flush=True,
                )
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
