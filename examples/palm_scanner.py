"""Palm X-ray scanner: watch the detector's export folder and decide live / fake per scan.

    python examples/palm_scanner.py dicom:///var/xray/export/ \
        --liveness bundles/palm_liveness --sr bundles/palm_sr
    python examples/palm_scanner.py "xray-raw:///data/scan.raw?w=1024&h=1024" \
        --liveness bundles/palm_liveness_raw
    python examples/palm_scanner.py dicom://sim/ --liveness ... --log palm-log/  # keep decisions

Each new image is checked for quality (sharpness, exposure, bone coverage; "please re-scan"
when it fails), optionally super-resolved, then classified live/fake (seed 001).  With
``--log``, every decision is kept with its image so that field mistakes can be labelled and fed
back with ``biogate palm feedback --log DIR --labels FILE``.
"""

from __future__ import annotations

import argparse
import sys
import time

from biogate.errors import BiogateError
from biogate.models.palm import PalmLiveness, PalmQuality, PalmScanner, PalmSR


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uri", help="dicom://FOLDER/ (watched) or xray-raw://FILE?w=..&h=..")
    parser.add_argument(
        "--liveness", required=True, help="palm liveness bundle (palm_liveness or palm_liveness_raw)"
    )
    parser.add_argument("--sr", help="palm SR bundle (omit with a raw-trained liveness bundle)")
    parser.add_argument("--log", help="decision log folder for the hard-example loop")
    parser.add_argument("--scans", type=int, default=None, help="stop after N scans")
    parser.add_argument(
        "--allow-unfit", action="store_true", help="run a liveness bundle that misses its fitness budget"
    )
    args = parser.parse_args()
    try:
        log = None
        if args.log:
            from biogate.models.palm_log import DecisionLog

            log = DecisionLog(args.log)
        liveness = PalmLiveness.from_bundle(args.liveness, require_fit=not args.allow_unfit)
        for verdict in liveness.verdicts:
            if not verdict.fit:
                print(f"palm_scanner: WARNING: UNFIT MODEL DECIDES: {verdict.message()}", file=sys.stderr)
        scanner = PalmScanner(
            liveness,
            sr=PalmSR.from_bundle(args.sr) if args.sr else None,
            quality=PalmQuality(),
            log=log,
        )
        for decision in scanner.run(args.uri, max_frames=args.scans):
            live = decision.liveness
            detail = "" if live is None else f"  (score {live.score:.3f}, threshold {live.threshold:.2f})"
            print(f"{time.strftime('%H:%M:%S')} {decision.source}: {decision.message}{detail}", flush=True)
    except BiogateError as exc:
        print(f"palm_scanner: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
