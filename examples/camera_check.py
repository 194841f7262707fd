"""Camera check for field technicians: live sharpness, frame rate and frame age of a camera.

    python examples/camera_check.py v4l2:///dev/video0
    python examples/camera_check.py "csi://0?width=1280&height=720" --seconds 20
    python examples/camera_check.py synthetic://face            # no camera: see what good looks like

Shows an OpenCV window with the live image and the numbers when a display exists; otherwise
prints a text meter once a second.  Sharpness is the variance of the Laplacian (the same score
the kiosk uses to pick frames); frame age is capture → here, which should stay under ~2 frame
periods.  Press q (window) or Ctrl-C to stop.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import biogate
from biogate.sharpness import frame_sharpness


def _has_display() -> bool:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return False
    import cv2

    try:
        cv2.namedWindow("biogate camera check")
    except cv2.error:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uri", help="camera URI (v4l2:///dev/video0, csi://0, rpicam://0, synthetic://face)")
    parser.add_argument("--seconds", type=float, default=0, help="stop after N seconds (0 = until stopped)")
    parser.add_argument("--no-window", action="store_true", help="text meter even when a display exists")
    args = parser.parse_args()
    window = not args.no_window and _has_display()
    try:
        source = biogate.open_source(args.uri)
    except biogate.BiogateError as exc:
        print(f"camera_check: {exc}", file=sys.stderr)
        return 2
    t_end = time.monotonic() + args.seconds if args.seconds else None
    frames, ages, scores = 0, [], []
    last_print = time.monotonic()
    try:
        for frame in source:
            frames += 1
            ages.append(frame.age_ms)
            scores.append(frame_sharpness(frame, step=2))
            if window:
                import cv2

                shown = (
                    frame.image if frame.format == "bgr8" else cv2.cvtColor(frame.gray(), cv2.COLOR_GRAY2BGR)
                )
                text = f"sharpness {scores[-1]:8.1f}  age {ages[-1]:5.1f} ms  seq {frame.seq}"
                cv2.putText(shown, text, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2)
                cv2.imshow("biogate camera check", shown)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
            now = time.monotonic()
            if now - last_print >= 1.0:
                fps = frames / (now - last_print)
                bar = "#" * min(40, int(scores[-1] / 25))
                age_p50 = sorted(ages)[len(ages) // 2]
                print(f"{fps:5.1f} fps  age p50 {age_p50:6.1f} ms  max {max(ages):6.1f} ms  "
                      f"sharpness {scores[-1]:8.1f} |{bar:<40}|  {frame.width}x{frame.height} {frame.format}",
                      flush=True)  # fmt: skip
                frames, ages, last_print = 0, [], now
            if t_end is not None and now >= t_end:
                break
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
