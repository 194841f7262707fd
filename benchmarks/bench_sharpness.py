"""Frame sharpness: biogate's C kernels against the usual OpenCV idioms.

Cases on 720p and 1080p gray frames and a 1080p NV12 frame, single-threaded
(``cv2.setNumThreads(1)``), plus a throughput run scoring many frames from 1 and 2
Python threads (the kernels release the GIL).  Summary keys:
``speedup_vs_cv2_f64_1080p``, ``speedup_vs_cv2_f32_1080p``, ``max_rel_err_vs_cv2``,
``thread_scaling_2``, ``floor_ratio_1080p`` (memory-copy time / biogate time).

    python benchmarks/bench_sharpness.py --json out/sharpness.json --plot out/sharpness.png
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bar_plot, base_parser, print_table, time_call, write_report

from biogate import _native


def cv2_f64_var(gray: np.ndarray) -> float:
    """The idiom found in most blur-detection code."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def cv2_f32_meanstddev(gray: np.ndarray) -> float:
    """The fastest pure-OpenCV form: CV_32F Laplacian and meanStdDev."""
    _, std = cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_32F))
    return float(std[0, 0]) ** 2


def test_frames(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Realistic frames: a real photograph tiled up to size with sensor-like noise."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    frames = {}
    for name, (h, w) in {"720p": (720, 1280), "1080p": (1080, 1920)}.items():
        tiled = cv2.resize(photo, (w, h), interpolation=cv2.INTER_LINEAR)
        noise = rng.normal(0, 3, (h, w))
        frames[name] = np.clip(tiled + noise, 0, 255).astype(np.uint8)
    y = frames["1080p"]
    frames["1080p_nv12"] = np.concatenate([y, rng.integers(0, 256, (540, 1920), dtype=np.uint8)])
    return frames


def max_rel_err(rng: np.random.Generator) -> float:
    """Largest relative difference to OpenCV's CV_64F variance over real and random images."""
    from skimage import data

    images = [data.camera(), data.coins(), data.moon(), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)]
    images += [
        rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(1, 1), (3, 3), (31, 77), (720, 1280)]
    ]
    worst = 0.0
    for image in images:
        ref = cv2_f64_var(image)
        got = _native.laplacian_var(image)
        worst = max(worst, abs(got - ref) / ref if ref else abs(got))
    return worst


def threaded_throughput(frames: list[np.ndarray], threads: int, rounds: int) -> float:
    """Frames scored per second by ``threads`` Python threads, each scoring all of ``frames``.

    Every thread walks the same frames, so the memory footprint is the same for any thread
    count and the ratio measures parallelism (the GIL released), not a cache effect.
    """
    barrier = threading.Barrier(threads + 1)

    def work(offset: int) -> None:
        barrier.wait()
        for _ in range(rounds):
            for frame in frames:
                _native.laplacian_var(frame)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return threads * rounds * len(frames) / (time.perf_counter() - t0)


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--threads-rounds", type=int, default=100, help="rounds over 4 frames per thread run")
    args = parser.parse_args()
    repeat, warmup = (5, 1) if args.quick else (args.repeat, args.warmup)
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    frames = test_frames(rng)

    cases: dict[str, Callable[[np.ndarray], float]] = {
        "cv2_laplacian_f64_var": cv2_f64_var,
        "cv2_laplacian_f32_meanstddev": cv2_f32_meanstddev,
        "biogate_laplacian": _native.laplacian_var,
        "biogate_brenner": _native.brenner,
        "biogate_tenengrad": _native.tenengrad,
    }
    results = []
    for size in ("720p", "1080p"):
        gray = frames[size]
        results.append({"case": "memory_copy_floor", "frame": size, **time_call(gray.copy, repeat, warmup)})
        for name, fn in cases.items():
            results.append({"case": name, "frame": size, **time_call(lambda: fn(gray), repeat, warmup)})  # noqa: B023
    nv12 = frames["1080p_nv12"]
    y_plane = nv12[:1080]
    for name, fn in cases.items():
        if name.startswith("cv2"):
            results.append(
                {"case": name, "frame": "1080p_nv12", **time_call(lambda fn=fn: fn(y_plane), repeat, warmup)}
            )
        else:
            results.append(
                {
                    "case": name,
                    "frame": "1080p_nv12",
                    **time_call(lambda fn=fn: fn(nv12, layout="nv12"), repeat, warmup),
                }
            )

    rounds = 2 if args.quick else args.threads_rounds
    scaling = {}
    for size in ("720p", "1080p"):
        batch = [np.roll(frames[size], k, axis=1) for k in range(4)]
        threaded_throughput(batch, 1, 1)  # warm-up
        # Alternate 1- and 2-thread runs and take medians, so a burst of other load hits both.
        runs = {1: [], 2: []}
        for _ in range(1 if args.quick else 3):
            for threads in (1, 2):
                runs[threads].append(threaded_throughput(batch, threads, rounds))
        for threads in (1, 2):
            fps = float(np.median(runs[threads]))
            results.append(
                {"case": "biogate_laplacian_threads", "frame": size, "threads": threads, "frames_per_s": fps}
            )
        scaling[size] = float(np.median(runs[2]) / np.median(runs[1]))

    print_table([r for r in results if "p50_ms" in r], ["case", "frame", "p50_ms", "p99_ms", "min_ms"])
    print_table([r for r in results if "threads" in r], ["case", "frame", "threads", "frames_per_s"])

    def p50(case: str, frame: str = "1080p") -> float:
        return next(r["p50_ms"] for r in results if r["case"] == case and r["frame"] == frame)

    ours = p50("biogate_laplacian")
    summary = {
        "biogate_laplacian_p50_ms_1080p": ours,
        "speedup_vs_cv2_f64_1080p": p50("cv2_laplacian_f64_var") / ours,
        "speedup_vs_cv2_f32_1080p": p50("cv2_laplacian_f32_meanstddev") / ours,
        "max_rel_err_vs_cv2": max_rel_err(rng),
        # 720p frames stay in cache: the ratio shows the GIL released. At 1080p two cores of a
        # small VM share ~10 GB/s of memory bandwidth, which caps the ratio below 2 on its own.
        "thread_scaling_2": scaling["720p"],
        "thread_scaling_2_1080p": scaling["1080p"],
        "floor_ratio_1080p": p50("memory_copy_floor") / ours,
        "simd_path": _native.simd_path(),
    }
    config = {
        "repeat": repeat,
        "warmup": warmup,
        "cv2_threads": 1,
        "thread_rounds": rounds,
        "frames": list(frames),
    }
    write_report(args, "sharpness", config, results, summary)
    if args.plot:
        rows = [r for r in results if r.get("frame") == "1080p" and "p50_ms" in r]
        bar_plot(
            args.plot,
            [r["case"] for r in rows],
            [r["p50_ms"] for r in rows],
            "p50 ms (1080p gray)",
            "Laplacian-variance sharpness, one thread",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
