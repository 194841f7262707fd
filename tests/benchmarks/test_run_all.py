"""The benchmark suite runner and the benchmark JSON contract (DESIGN.md §3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_run_all_collects_a_board_report(tmp_path):
    out = tmp_path / "board"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--only", "sharpness", "--out", str(out),
         "--board", "test board"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    entry = report["benchmarks"][0]
    assert entry["status"] == "ok"
    bench = entry["report"]
    assert set(bench) == {"benchmark", "machine", "config", "results", "summary"}
    summary = bench["summary"]
    for key in ("speedup_vs_cv2_f64_1080p", "speedup_vs_cv2_f32_1080p", "max_rel_err_vs_cv2"):
        assert key in summary
    assert summary["max_rel_err_vs_cv2"] <= 1e-9
    assert all("p50_ms" in r and "p99_ms" in r for r in bench["results"] if "frames_per_s" not in r)
    assert (out / "sharpness.png").exists() or "matplotlib" in (out / "sharpness.log").read_text()
    md = (out / "report.md").read_text()
    assert "test board" in md and "speedup_vs_cv2_f64_1080p" in md


def test_run_all_rejects_unknown_benchmark(tmp_path):
    cmd = [sys.executable, str(BENCH / "run_all.py"), "--only", "nope", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown benchmark" in proc.stderr
