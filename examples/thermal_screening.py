"""Thermal screening station: face temperature with an in-scene blackbody, and an alarm.

    python examples/thermal_screening.py "uvc-thermal:///dev/video2?blackbody=140,100,12,12&blackbody_c=35"
    python examples/thermal_screening.py synthetic://thermal                 # no camera
    python examples/thermal_screening.py synthetic://thermal --bundle bundles/thermal_face --alarm 37.5

For every thermal frame: the faces found, each with its body-temperature estimate ± uncertainty
(inner-canthus maximum, fused with the model's estimate when a bundle is given) and an ALARM
line at or above the threshold.  Frames frozen by the camera's flat-field correction are
skipped, as IEC 80601-2-59 practice requires.  With a display, a false-colour window.
"""

from __future__ import annotations

import argparse
import sys
import time

import biogate
from biogate.models.thermal import ThermalConfig, ThermalFace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uri", help="thermal source URI (uvc-thermal://, mlx90640://, synthetic://thermal)")
    parser.add_argument("--bundle", help="thermal_face bundle (optional: model + canthus fusion)")
    parser.add_argument("--alarm", type=float, default=37.3, help="alarm threshold in °C")
    parser.add_argument("--frames", type=int, default=0, help="stop after N frames (0 = until Ctrl-C)")
    parser.add_argument("--window", action="store_true", help="show a false-colour window")
    args = parser.parse_args()
    config = ThermalConfig(alarm_c=args.alarm)
    try:
        thermal = (
            ThermalFace.from_bundle(args.bundle, config=config) if args.bundle else ThermalFace(config=config)
        )
        source = biogate.open_source(args.uri)
    except biogate.BiogateError as exc:
        print(f"thermal_screening: {exc}", file=sys.stderr)
        return 2
    n = 0
    try:
        for frame in source:
            n += 1
            readings = thermal.measure(frame)
            stamp = time.strftime("%H:%M:%S")
            if not readings:
                state = "FFC / settling" if frame.meta.get("ffc_in_progress") else "no face"
                print(f"{stamp} frame {frame.seq}: {state}", flush=True)
            for r in readings:
                flag = "  ALARM" if r.alarm is not None else ""
                bb = "yes" if r.blackbody_corrected else "NO"
                print(f"{stamp} frame {frame.seq}: {r.temperature_c:5.2f} ± {r.uncertainty_c:.2f} °C "
                      f"(canthus {r.canthus_c:.2f} °C, blackbody {bb}){flag}", flush=True)  # fmt: skip
            if args.window:
                import cv2
                import numpy as np

                celsius, _ = thermal.object_celsius(frame)
                gray = np.clip((celsius - 20.0) * (255 / 20.0), 0, 255).astype(np.uint8)
                cv2.imshow(
                    "biogate thermal",
                    cv2.resize(cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO), None, fx=4, fy=4),
                )
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
            if args.frames and n >= args.frames:
                break
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
