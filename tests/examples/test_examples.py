"""The field-technician example apps: each has --help, and the ones that need no hardware run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_has_help(script):
    proc = run(str(EXAMPLES / script), "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_camera_check_on_synthetic_camera():
    proc = run(
        str(EXAMPLES / "camera_check.py"), "synthetic://face?fps=30", "--seconds", "2.5", "--no-window"
    )
    assert proc.returncode == 0, proc.stderr
    assert "fps" in proc.stdout and "sharpness" in proc.stdout


def test_camera_check_bad_uri_is_one_line():
    proc = run(str(EXAMPLES / "camera_check.py"), "webcam://0")
    assert proc.returncode == 2 and "webcam" in proc.stderr and "Traceback" not in proc.stderr


def test_gate_check_against_simulator():
    proc = run(str(EXAMPLES / "gate_check.py"), "--simulate", "status")
    assert proc.returncode == 0, proc.stderr
    assert "relay closed" in proc.stdout and "firmware" in proc.stdout
    proc = run(str(EXAMPLES / "gate_check.py"), "--simulate", "open", "--ms", "500")
    assert proc.returncode == 0 and "acknowledged" in proc.stdout


def test_thermal_screening_on_synthetic_thermal():
    proc = run(str(EXAMPLES / "thermal_screening.py"), "synthetic://thermal?fps=0", "--frames", "5")
    assert proc.returncode == 0, proc.stderr
    assert "°C" in proc.stdout and "blackbody yes" in proc.stdout


def test_example_kiosk_config_is_valid():
    from biogate.kiosk.config import load_config

    config = load_config(EXAMPLES / "kiosk.toml")
    assert config.models.embedder.endswith("face_embed_dlib")
