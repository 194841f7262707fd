"""``biogate train`` across processes (torch.distributed, gloo, CPU) and across a SIGKILL.

* Two processes over the same global batches reach the weights one process reaches, within
  ``ATOL`` (float32 sums are ordered differently by an all-reduce of two half-batch gradients).
* A run killed with SIGKILL in the middle of training and resumed with ``--resume`` ends on the
  very weights an uninterrupted run ends on (same data order, optimiser, scheduler and RNG states).

Both train ``palm_sr`` (no BatchNorm: per-process batch statistics would differ) on a tiny DICOM export.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from biogate.bundle import open_bundle
from biogate.cli.main import main
from tests.exporters.training import tiny_layouts as T

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.distributed, pytest.mark.slow]

#: Largest weight difference allowed between the 1- and 2-process runs (weights are O(0.1)).
ATOL = 1e-5
COMMON = [
    "--batch",
    "4",
    "--set",
    "patch=16",
    "--no-latency",
    "--no-progress",
    "--threads",
    "1",
    "--folds",
    "3",
]


@pytest.fixture(scope="module")
def palm(tmp_path_factory):
    return f"palm-dicom:{T.write_palm(tmp_path_factory.mktemp('palm') / 'export', subjects=6, lr=32)}"


def _weights(run) -> dict:
    blob = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    return blob["modules"]["sr"]


def _worker(*args: str) -> list[str]:
    return [sys.executable, "-m", "biogate.exporters.training", "palm_sr", *args]


def test_two_gloo_processes_match_one_process(palm, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["train", "palm_sr", "--data", palm, "--out", str(one), "--steps", "12", *COMMON]) == 0
    done = subprocess.run(
        _worker("--data", palm, "--out", str(two), "--steps", "12", "--nproc", "2", *COMMON),
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "2 process(es) on cpu (gloo)" in done.stdout
    a, b = _weights(one), _weights(two)
    assert set(a) == set(b)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= ATOL
    assert (
        max(float(a[k].abs().max()) for k in a) > 0.05
    )  # the weights are not all ~0 (the check means something)
    manifest = open_bundle(two / "bundle").manifest
    assert manifest["training"]["world_size"] == 2 and manifest["training"]["steps"] == 12
    assert open_bundle(one / "bundle").manifest["training"]["world_size"] == 1


def test_a_sigkilled_run_resumes_to_the_uninterrupted_end(palm, tmp_path):
    steps, every = "300", "10"
    ref, run = tmp_path / "ref", tmp_path / "run"
    args = ["--data", palm, "--steps", steps, "--checkpoint-every", every, "--log-every", "50", *COMMON]
    assert main(["train", "palm_sr", *args, "--out", str(ref), "--no-export"]) == 0
    proc = subprocess.Popen(
        _worker(*args, "--out", str(run)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        for line in proc.stdout:  # wait for the first checkpoint, then kill without warning
            if line.startswith(f"checkpoint: step {every} "):
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    blob = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    assert 10 <= blob["phase_step"] < 300, "the kill came after the end of training"
    assert main(["train", "palm_sr", *args, "--out", str(run)]) == 2  # an existing run needs --resume
    assert (
        main(["train", "palm_sr", *args, "--out", str(run), "--resume", "--lr", "0.5"]) == 2
    )  # other options
    assert main(["train", "palm_sr", *args, "--out", str(run), "--resume"]) == 0
    a, b = _weights(ref), _weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a)
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert history[-1]["step"] == 300 and [r["step"] for r in history] == sorted({r["step"] for r in history})
    assert open_bundle(run / "bundle").manifest["training"]["steps"] == 300
