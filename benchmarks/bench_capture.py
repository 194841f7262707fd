"""Frame age at read: biogate's latest-frame source vs a queue-everything reader.

A ``synthetic://face`` producer runs at 30 and 60 fps while the consumer takes 100 ms per frame
(10 fps). biogate's source keeps only the newest frame (``latest=True``); the comparison reader
is the same driver with an unbounded FIFO (``latest=False, queue_size=0``), which is what a plain
``cv2.VideoCapture`` loop does when the application is slower than the camera. Both are timed in
the same run, on the same generator, with the same consumer.

Reported per case: frame age at read (``now - t_capture`` when ``read()`` returns) p50/p99/max,
frames dropped (latest mode) or left in the backlog (queue mode), and how fast the age grows.
Target (issue #3): with a 30 fps producer and a 10 fps consumer, age p99 <= 1.5 frame periods.

    python benchmarks/bench_capture.py --json out/bench_capture.json --plot out/bench_capture.png
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, latency_stats, print_table, write_report

import biogate

TARGET_PERIODS = 1.5


def run_case(
    mode: str, producer_fps: float, consumer_fps: float, seconds: float, size: str, jitter: float
) -> dict[str, Any]:
    """Consume ``synthetic://face`` at ``consumer_fps`` for ``seconds``; return ages and counters."""
    width, height = (int(v) for v in size.split("x"))
    options: dict[str, Any] = {"fps": producer_fps, "width": width, "height": height}
    if mode == "queue":
        options.update(latest=False, queue_size=0)
    else:
        options.update(latest=True)
    rng = np.random.default_rng(0)  # the consumer's work varies by +-jitter, as real inference does
    ages: list[float] = []
    times: list[float] = []
    with biogate.open_source("synthetic://face", **options) as src:
        src.read(timeout=5)  # warm-up: renderer caches, first frame
        start = time.monotonic()
        tick = start
        while time.monotonic() - start < seconds:
            frame = src.read(timeout=5)
            if frame is None:
                raise RuntimeError("synthetic source stopped")
            ages.append(frame.meta["age_ms_at_read"])
            times.append(time.monotonic() - start)
            tick += (1.0 + rng.uniform(-jitter, jitter)) / consumer_fps  # the consumer's work per frame
            pause = tick - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        stats = src.stats()
    age = latency_stats(ages)
    slope = float(np.polyfit(times, ages, 1)[0]) if len(ages) > 2 else 0.0
    period_ms = 1000.0 / producer_fps
    return {
        "mode": "biogate-latest" if mode == "latest" else "queue-everything",
        "producer_fps": producer_fps,
        "consumer_fps": consumer_fps,
        "reads": age["n"],
        "age_p50_ms": age["p50_ms"],
        "age_p99_ms": age["p99_ms"],
        "age_max_ms": float(np.max(ages)),
        "p99_periods": age["p99_ms"] / period_ms,
        "age_growth_ms_per_s": slope,
        "captured": stats["captured"],
        "dropped": stats["dropped"],
        "backlog": stats["captured"] - stats["delivered"] - stats["dropped"],
        "measured_fps": stats["fps"],
        "ticks_missed": stats.get("ticks_missed", 0),
        "_series": (times, ages),
    }


def plot(path: str, results: list[dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed; --plot skipped (pip install matplotlib)")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for row in results:
        times, ages = row["_series"]
        label = f"{row['mode']} {row['producer_fps']:g} fps"
        ax = ax1 if row["mode"] == "biogate-latest" else ax2
        ax.plot(times, ages, label=label)
    ax1.set_title("biogate latest-frame: age at read")
    ax2.set_title("queue-everything reader: age at read")
    for ax in (ax1, ax2):
        ax.set_xlabel("consumer time (s)")
        ax.set_ylabel("frame age at read (ms)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="consumer run time per case")
    parser.add_argument("--consumer-fps", type=float, default=10.0)
    parser.add_argument("--producer-fps", type=float, nargs="+", default=[30.0, 60.0])
    parser.add_argument("--size", default="640x480", help="synthetic frame size WxH")
    parser.add_argument(
        "--jitter", type=float, default=0.1, help="consumer work time varies by +-this fraction"
    )
    args = parser.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    results = []
    for fps in args.producer_fps:
        for mode in ("latest", "queue"):
            results.append(run_case(mode, fps, args.consumer_fps, seconds, args.size, args.jitter))
    columns = [
        "mode",
        "producer_fps",
        "consumer_fps",
        "reads",
        "age_p50_ms",
        "age_p99_ms",
        "age_max_ms",
        "p99_periods",
        "age_growth_ms_per_s",
        "dropped",
        "backlog",
        "ticks_missed",
    ]
    print_table(results, columns)
    summary: dict[str, Any] = {}
    for row in results:
        key = "biogate" if row["mode"] == "biogate-latest" else "queue"
        summary[f"age_p99_ms_{key}_{row['producer_fps']:g}fps"] = row["age_p99_ms"]
        summary[f"dropped_{key}_{row['producer_fps']:g}fps"] = row["dropped"]
    first = args.producer_fps[0]
    bio = next(r for r in results if r["mode"] == "biogate-latest" and r["producer_fps"] == first)
    queue = next(r for r in results if r["mode"] == "queue-everything" and r["producer_fps"] == first)
    summary["age_p99_ms"] = bio["age_p99_ms"]
    summary[f"age_p99_periods_biogate_{first:g}fps"] = bio["p99_periods"]
    summary[f"queue_over_biogate_p99_{first:g}fps"] = queue["age_p99_ms"] / bio["age_p99_ms"]
    summary["target_p99_periods"] = TARGET_PERIODS
    summary["target_met"] = bool(bio["p99_periods"] <= TARGET_PERIODS) if first == 30.0 else None
    if args.plot:
        plot(args.plot, results)
    for row in results:
        row.pop("_series")
    config = {
        "uri": "synthetic://face",
        "size": args.size,
        "seconds": seconds,
        "consumer_fps": args.consumer_fps,
        "consumer_jitter": args.jitter,
        "producer_fps": args.producer_fps,
    }
    write_report(args, "capture", config, results, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
