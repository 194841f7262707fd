"""Smoke run of ``benchmarks/bench_attacks.py --quick`` on the session's kiosk bundles.

One configuration (``examples/kiosk.toml``), every attack species once, a stranger, the
enrolled people once, two delete-while-running trials and one replay-after-restart: the
benchmark contract (DESIGN.md §3) and the issue #16 targets on that small run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_attacks.py"
KEYS = {
    "wrong_opens",
    "attacks_tried",
    "configs_tried",
    "unfit_model_starts",
    "revocation_p99_ms",
    "replays_accepted_after_restart",
    "genuine_open_rate",
}


def test_quick_run_meets_the_targets(kiosk_bundles, tmp_path):
    out = tmp_path / "attacks.json"
    cmd = [sys.executable, str(BENCH), "--quick", "--bundles", str(kiosk_bundles), "--json", str(out)]
    proc = subprocess.run([*cmd, "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report) == {"benchmark", "machine", "config", "results", "summary"}
    s = report["summary"]
    assert set(s) == KEYS
    assert s["wrong_opens"] == 0 and s["unfit_model_starts"] == 0 and s["replays_accepted_after_restart"] == 0
    assert s["configs_tried"] == 1 and s["attacks_tried"] == len(report["config"]["species"]) >= 8
    assert s["revocation_p99_ms"] <= 1000.0 and report["config"]["revocation_valid_trials"] == 2
    assert s["genuine_open_rate"] >= 0.8  # five walk-ups here; the full run's target is 0.95
    rows = [r for r in report["results"] if r.get("species") == "cut_eyes"]
    assert rows and rows[0]["relay_opens"] == 0
