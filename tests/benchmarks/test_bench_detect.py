"""Smoke run of ``benchmarks/bench_detect.py --quick`` on the test bundles: the report's contract.

Accuracy figures are the bundles' own business (the fixture's bundles carry no measured fitness,
so ``auto`` must not pick the any-orientation detector); here: the benchmark runs, interleaves its
latency runs, and reports per rotation, per size and the ratio the issue's target is judged by.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_detect.py"


def test_quick_run_reports_rotations_sizes_and_the_mtcnn_ratio(detector_bundles, tmp_path):
    from biogate.exporters import export, registry

    folder = tmp_path / "bundles"
    shutil.copytree(detector_bundles, folder)
    spec = dataclasses.replace(registry.get("mtcnn_pnet"), evaluate=lambda infer: {"metric": 1.0})
    export(spec, folder, measure_latency=False, parity_samples=2, calib_samples=1)
    out = tmp_path / "detect.json"
    cmd = [sys.executable, str(BENCH), "--quick", "--bundles", str(folder), "--json", str(out)]
    cmd += ["--detectors", "any,mtcnn", "--sizes", "320x240,640x480"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    s = report["summary"]
    assert s["auto_picks"] == "mtcnn"  # unmeasured fitness is never fit
    assert 0.0 <= s["any/held_out/worst_recall_at_p90"] <= 1.0
    assert s["any_vs_mtcnn_latency_640x480"] > 0
    latency = [r for r in report["results"] if r["set"] == "latency"]
    assert {(r["detector"], r["size"]) for r in latency} == {
        (d, z) for d in ("any", "mtcnn") for z in ("320x240", "640x480")
    }
    rotations = {r["rotation"] for r in report["results"] if r["set"] == "held_out"}
    assert rotations == {0.0, 90.0}


def test_dev_run_measures_the_training_mosaics_with_the_options_given(detector_bundles, tmp_path):
    from biogate.exporters.data import face_photos

    if face_photos.photo_path("opencv", "lena.jpg") is None:
        import pytest

        pytest.skip("face photographs not fetched (python -m biogate.exporters.data.face_photos)")
    out = tmp_path / "dev.json"
    cmd = [sys.executable, str(BENCH), "--quick", "--dev", "--bundles", str(detector_bundles)]
    cmd += ["--json", str(out)]
    cmd += ["--detectors", "any", "--sizes", "320x240", "--options", '{"tilts": [-25, 25], "size_turns": 1}']
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["config"]["options"] == {"tilts": [-25, 25], "size_turns": 1}
    assert {r["set"] for r in report["results"] if r["set"] != "latency"} == {"train_mosaics"}
    assert report["config"]["faces"]["train_mosaics"] > 100
    # A malformed --options is one clear error and exit 2.
    bad = subprocess.run([*cmd[:2], "--options", "[1]"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--options" in bad.stderr
