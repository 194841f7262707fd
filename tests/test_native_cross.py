"""The C kernels against a naive C reference: on this CPU, and on aarch64 under qemu.

The aarch64 run checks the NEON-vectorised build that Jetson and Raspberry Pi boards run; it
needs ``gcc-aarch64-linux-gnu`` and ``qemu-user`` (``apt-get install gcc-aarch64-linux-gnu
qemu-user libc6-dev-arm64-cross``) and is skipped, saying so, where they are absent.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[1] / "sdk" / "_csrc"
SOURCES = [str(CSRC / "check" / "kernels_check.c"), str(CSRC / "sharpness_kernels.c")]
FLAGS = ["-O3", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{CSRC}"]


def _build_and_run(cc: str, out: Path, runner: list) -> str:
    subprocess.run([cc, *FLAGS, *SOURCES, "-o", str(out)], check=True, capture_output=True, timeout=120)
    proc = subprocess.run([*runner, str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_kernels_exact_on_host(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on PATH")
    assert "ok: 156/156" in _build_and_run(cc, tmp_path / "check", [])


def test_kernels_exact_on_aarch64_under_qemu(tmp_path):
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if cc is None or qemu is None:
        pytest.skip("aarch64 cross compiler or qemu-aarch64 not installed (see module docstring)")
    out = _build_and_run(cc, tmp_path / "check", [qemu, "-L", "/usr/aarch64-linux-gnu"])
    assert "ok: 156/156" in out and "neon" in out
