"""CPU latency of an ONNX file on ONNX Runtime, as recorded in the bundle manifest.

Measured with one intra-op thread (the most repeatable figure on a shared build machine) at
batch 1; ``precision="auto"`` on the device compares the FP32 and INT8 numbers taken here in
the same run.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from biogate.exporters.runners import ort_session


def cpu_latency_ms(
    path: Path, inputs: dict[str, np.ndarray], repeat: int = 30, warmup: int = 5, threads: int = 1
) -> dict[str, float]:
    """p50/p99 milliseconds of ``session.run`` on ``inputs`` after ``warmup`` runs."""
    session = ort_session(path, threads)
    names = [o.name for o in session.get_outputs()]
    for _ in range(warmup):
        session.run(names, inputs)
    samples = np.empty(repeat)
    for i in range(repeat):
        t0 = time.perf_counter()
        session.run(names, inputs)
        samples[i] = (time.perf_counter() - t0) * 1e3
    return {"p50_ms": float(np.percentile(samples, 50)), "p99_ms": float(np.percentile(samples, 99))}


def compare_latency(
    paths: dict[str, Path], inputs: dict[str, np.ndarray], rounds: int = 3, repeat: int = 20
) -> dict[str, float]:
    """Interleaved p50 of several models (``{"fp32": a, "int8": b}``) so load spikes hit all alike."""
    per: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(rounds):
        for key, path in paths.items():
            per[key].append(cpu_latency_ms(path, inputs, repeat=repeat, warmup=3)["p50_ms"])
    return {k: float(np.median(v)) for k, v in per.items()}
