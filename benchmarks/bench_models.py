"""Latency and INT8 accuracy of every registered model on ONNX Runtime CPU (and TensorRT if present).

For each model: export a bundle with INT8 (or reuse one from ``--bundles DIR``), then time
FP32 and INT8 through ``biogate.engine.load`` at batch 1 and ``--batch`` (p50/p99 after
warm-up, interleaved so background load hits both alike), and evaluate both with the model's
own metric.  Summary per model: ``int8_speedup`` (FP32 p50 / INT8 p50 at batch 1, wall clock;
``int8_speedup_cpu_time`` the same from thread CPU time, which other processes on a shared
machine do not inflate) and ``int8_metric_drop`` (in the metric's bad direction).  ::

    python benchmarks/bench_models.py --model reference_cnn --json out/bench_models.json --plot out/models.png
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import base_parser, print_table, time_call, write_report


def _cpu_p50(fn: Any, repeat: int) -> float:
    """p50 of the calling thread's CPU time per call (one intra-op thread computes on it)."""
    samples = []
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        samples.append((time.thread_time() - t0) * 1e3)
    return float(np.median(samples))


def _input_for(spec: Any, batch: int) -> dict[str, np.ndarray]:
    sample = next(iter(spec.calibration_data(1)))
    return {k: np.ascontiguousarray(np.concatenate([v[:1]] * batch)) for k, v in sample.items()}


def _bundle_for(name: str, args: Any, workdir: Path) -> Any:
    from biogate.bundle import open_bundle
    from biogate.exporters import export

    if args.bundles and (Path(args.bundles) / name / "manifest.json").is_file():
        return open_bundle(Path(args.bundles) / name)
    return export(name, args.bundles or workdir, int8=True, calib_method=args.calib_method)


def _engines(bundle: Any, threads: int) -> dict[str, Any]:
    from biogate import engine

    out = {"ort-cpu-fp32": engine.load(bundle, backend="onnxruntime", precision="fp32", threads=threads)}
    if bundle.has("model.int8.onnx"):
        out["ort-cpu-int8"] = engine.load(
            bundle, backend="onnxruntime", precision="int8", threads=threads, allow_unfit=True
        )
    try:
        from biogate.engine.cuda_mem import module_present

        if module_present("tensorrt"):
            for precision in ("fp16", "int8"):
                out[f"trt-{precision}"] = engine.load(bundle, backend="tensorrt", precision=precision)
    except Exception as exc:  # a broken GPU stack must not hide the CPU figures
        print(f"  TensorRT skipped: {exc}")
    return out


def bench_model(name: str, args: Any, workdir: Path) -> list[dict[str, Any]]:
    from biogate.exporters import registry

    spec = registry.get(name)
    bundle = _bundle_for(name, args, workdir)
    engines = _engines(bundle, args.threads)
    rows: list[dict[str, Any]] = []
    for batch in sorted({1, args.batch}):
        feed = _input_for(spec, batch)
        stats: dict[str, list[dict[str, float]]] = {k: [] for k in engines}
        cpu: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(args.rounds):
            for key, eng in engines.items():
                stats[key].append(time_call(lambda e=eng, f=feed: e(f), args.repeat, args.warmup))
                cpu[key].append(_cpu_p50(lambda e=eng, f=feed: e(f), args.repeat))
        for key, runs in stats.items():
            rows.append(
                {
                    "model": name,
                    "engine": key,
                    "batch": batch,
                    "p50_ms": float(np.median([r["p50_ms"] for r in runs])),
                    "p99_ms": float(np.median([r["p99_ms"] for r in runs])),
                    "cpu_p50_ms": float(np.median(cpu[key])),
                }
            )
    for key, eng in engines.items():
        metric = float(spec.evaluate(lambda d, e=eng: e(d))["metric"])
        for row in rows:
            if row["engine"] == key:
                row[spec.metric] = metric
    for eng in engines.values():
        eng.close()
    return rows


def summarise(rows: list[dict[str, Any]], specs: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, spec in specs.items():
        by = {(r["engine"], r["batch"]): r for r in rows if r["model"] == name}
        fp32, int8 = by.get(("ort-cpu-fp32", 1)), by.get(("ort-cpu-int8", 1))
        if not fp32 or not int8:
            continue
        drop = fp32[spec.metric] - int8[spec.metric]
        summary[f"{name}.int8_speedup"] = fp32["p50_ms"] / int8["p50_ms"]
        summary[f"{name}.int8_speedup_cpu_time"] = fp32["cpu_p50_ms"] / int8["cpu_p50_ms"]
        summary[f"{name}.int8_metric_drop"] = drop if spec.higher_is_better else -drop
        summary[f"{name}.int8_budget"] = spec.int8_budget
    return summary


def plot(path: str, summary: dict[str, Any]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed; --plot skipped (pip install matplotlib)")
        return
    names = sorted({k.split(".")[0] for k in summary})
    fig, (a, b) = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(names)), 4))
    a.bar(names, [summary[f"{n}.int8_speedup"] for n in names])
    a.axhline(1.0, color="k", lw=0.8)
    a.set_ylabel("INT8 speed-up vs FP32 (batch 1, ORT CPU)")
    b.bar(names, [summary[f"{n}.int8_metric_drop"] for n in names], label="drop")
    b.scatter(
        names, [summary[f"{n}.int8_budget"] for n in names], color="r", marker="_", s=400, label="budget"
    )
    b.set_ylabel("INT8 metric drop (own metric)")
    b.legend()
    for ax in (a, b):
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="registered model (repeatable; default: all)")
    parser.add_argument("--batch", type=int, default=8, help="the larger batch size")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case")
    parser.add_argument("--bundles", help="reuse/export bundles in this directory (default: a temp dir)")
    parser.add_argument("--calib-method", default=None, help="minmax | entropy | percentile")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.warmup, args.rounds = 5, 1, 1
    from biogate.exporters import registry

    names = args.model or registry.names()
    specs = {n: registry.get(n) for n in names}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        for name in names:
            print(f"== {name}", flush=True)
            rows += bench_model(name, args, Path(tmp))
    metric_cols = sorted({s.metric for s in specs.values()})
    print_table(rows, ["model", "engine", "batch", "p50_ms", "p99_ms", "cpu_p50_ms", *metric_cols])
    summary = summarise(rows, specs)
    config = {k: v for k, v in vars(args).items() if k not in ("json", "plot")}
    write_report(args, "bench_models", config, rows, summary)
    if args.plot and summary:
        plot(args.plot, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
