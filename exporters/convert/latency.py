"""CPU latency of ONNX files on ONNX Runtime, as recorded in the bundle manifest.

Measured with one intra-op thread at batch 1 as the calling thread's CPU time (on an idle
machine this equals wall time; on a shared build machine other processes do not inflate it).
Several models are timed in interleaved rounds so background load hits all of them alike;
``precision="auto"`` on the device compares the FP32 and INT8 numbers of one such run.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from biogate.exporters.convert.runners import ort_session


def _p50(session, names, inputs, repeat: int) -> float:
    # CPU time of this thread: with one intra-op thread ORT computes on the calling thread, and
    # thread time does not count the slices other processes take on a shared build machine.
    samples = np.empty(repeat)
    for i in range(repeat):
        t0 = time.thread_time()
        session.run(names, inputs)
        samples[i] = (time.thread_time() - t0) * 1e3
    return float(np.percentile(samples, 50))


def cpu_latency_ms(
    path: Path, inputs: dict[str, np.ndarray], repeat: int = 30, warmup: int = 5, threads: int = 1
) -> float:
    """p50 milliseconds of ``session.run`` on ``inputs`` after ``warmup`` runs."""
    return compare_latency({"m": path}, inputs, rounds=1, repeat=repeat, warmup=warmup, threads=threads)["m"]


def compare_latency(
    paths: dict[str, Path],
    inputs: dict[str, np.ndarray],
    rounds: int = 3,
    repeat: int = 20,
    warmup: int = 5,
    threads: int = 1,
) -> dict[str, float]:
    """Median over ``rounds`` interleaved p50s per model (``{"fp32": a, "int8": b}`` → ms)."""
    sessions = {k: ort_session(p, threads) for k, p in paths.items()}
    names = {k: [o.name for o in s.get_outputs()] for k, s in sessions.items()}
    for key, session in sessions.items():
        for _ in range(warmup):
            session.run(names[key], inputs)
    per: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(rounds):
        for key, session in sessions.items():
            per[key].append(_p50(session, names[key], inputs, repeat))
    return {k: float(np.median(v)) for k, v in per.items()}
