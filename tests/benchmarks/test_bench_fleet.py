"""Smoke run of ``benchmarks/bench_fleet.py --quick``: 6 kiosk processes against a real PostgreSQL.

Guards the benchmark itself (a kiosk process that cannot start once stalled it for half an hour)
and the issue #18 contract on a small run: the summary keys, nothing lost or duplicated, decisions
while the server was down, revocations within the 2 s budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from biogate.fleet.pgtemp import find_pg_bin

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fleet.py"
KEYS = {
    "server",
    "kiosks",
    "revocation_p99_ms",
    "enrol_propagation_p99_ms",
    "full_sync_100k_s",
    "lost_events",
    "duplicate_events",
    "offline_decisions",
}


@pytest.mark.skipif(find_pg_bin() is None, reason="no PostgreSQL binaries: bench_fleet smoke run skipped")
def test_quick_run_meets_the_contract(tmp_path):
    out = tmp_path / "fleet.json"
    cmd = [sys.executable, str(BENCH), "--quick", "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report) >= {"benchmark", "machine", "config", "results", "summary"}
    s = report["summary"]
    assert set(s) >= KEYS
    assert s["server"] == "postgresql" and s["kiosks"] == 6
    assert s["lost_events"] == 0 and s["duplicate_events"] == 0 and s["offline_decisions"] > 0
    assert s["revocation_p99_ms"] <= 2000 and s["propagation_missing"] == 0
