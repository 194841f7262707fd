"""Shared plumbing for ``benchmarks/bench_*.py`` (the benchmark contract, DESIGN.md §3).

Every script prints a human table and, with ``--json PATH``, writes
``{"benchmark", "machine", "config", "results", "summary"}``; with ``--plot PATH`` it draws a PNG.
Latencies are p50/p99 over repeats after warm-up; comparisons are ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON here")
    parser.add_argument("--plot", metavar="PATH", help="draw a PNG here (needs matplotlib)")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per case (after warm-up)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs per case")
    parser.add_argument("--quick", action="store_true", help="few repeats, for smoke tests")
    return parser


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, OS, Python, key library versions."""
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    for name in ("cv2", "onnxruntime", "torch", "tensorrt"):
        module = sys.modules.get(name)
        if module is not None:
            info[name] = getattr(module, "__version__", "?")
    with contextlib.suppress(OSError):
        info["jetson"] = Path("/etc/nv_tegra_release").read_text().split(",")[0]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        info["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    return info


def time_call(fn: Callable[[], Any], repeat: int, warmup: int) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times; return p50/p99/mean in ms."""
    for _ in range(warmup):
        fn()
    samples = np.empty(repeat, dtype=np.float64)
    for i in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        samples[i] = (time.perf_counter_ns() - t0) / 1e6
    return latency_stats(samples)


def latency_stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p99/mean/min of a list of millisecond samples."""
    arr = np.asarray(samples_ms, dtype=np.float64)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "mean_ms": float(arr.mean()),
        "min_ms": float(arr.min()),
        "n": int(arr.size),
    }


def print_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """Print ``rows`` as an aligned text table."""
    if not rows:
        print("(no results)")
        return
    columns = columns or list(rows[0].keys())

    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def write_report(
    args: argparse.Namespace,
    name: str,
    config: dict[str, Any],
    results: list[dict[str, Any]],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Print the summary and write the JSON report when ``--json`` was given."""
    report = {
        "benchmark": name,
        "machine": machine_info(),
        "config": config,
        "results": results,
        "summary": summary,
    }
    print("\nsummary:")
    for key, value in summary.items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    if getattr(args, "json", None):
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, default=float))
        print(f"wrote {path}")
    return report


def bar_plot(path: str, labels: list[str], values: list[float], ylabel: str, title: str) -> None:
    """A simple bar chart PNG; skipped with a note when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed; --plot skipped (pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 0.9), 4))
    ax.bar(range(len(values)), values)
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")
