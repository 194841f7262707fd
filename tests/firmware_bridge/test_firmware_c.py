"""The C side: unit tests on the shared vectors and a short fuzz smoke run, built into tmp.

``make firmware`` (part of ``make test``) also runs the ASan+UBSan build; the 10-minute
fuzz run is ``make -C firmware_bridge/firmware fuzz`` (docs/firmware.md).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from biogate.firmware_bridge.simulator import FIRMWARE_DIR

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("cc") is None, reason="needs make and cc"
)


def _make(tmp_path, *targets, **variables):
    cmd = ["make", "-s", "-C", str(FIRMWARE_DIR), f"BUILD={tmp_path}", *targets]
    cmd += [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240)


def test_c_unit_tests_pass_with_werror(tmp_path):
    proc = _make(tmp_path, "unit")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ", 0 failures" in proc.stdout


def test_fuzz_smoke_run(tmp_path):
    proc = _make(tmp_path, "fuzz-smoke", SMOKE_SECONDS=2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no crash" in proc.stdout or "stat::number_of_executed_units" in proc.stdout
