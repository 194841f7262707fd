"""Smoke run of benchmarks/bench_serial.py: the report has the contract's shape and the audit is clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_serial.py"


def test_bench_serial_smoke(tmp_path):
    out = tmp_path / "serial.json"
    cmd = [sys.executable, str(BENCH), "--n", "60", "--repeat", "20", "--warmup", "2", "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["benchmark"] == "serial" and {"machine", "config", "results"} <= set(report)
    summary = report["summary"]
    assert summary["soak_n"] == 60
    assert summary["wrong_opens"] == summary["lost_commands"] == summary["replays_accepted"] == 0
    assert summary["rtt_p99_ms"] > 0
