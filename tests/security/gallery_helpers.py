"""Shared by the hostile gallery tests: a key and a gallery on disk, the real CLI, worker processes.

A :class:`Worker` is a second Python process driven line by line over stdin/stdout, so a test
can hold a gallery open in another process, make it act at a chosen moment and wait for its
answer — on a deadline, never on a sleep.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

DIM = 128
DEADLINE_S = 60.0  # generous: the build machine is shared; nothing here is a timing claim


def key_file(tmp_path: Path) -> Path:
    """A fresh key, owner-only, in a folder of its own (never under the gallery's)."""
    from biogate.gallery import GalleryKey

    folder = tmp_path / "keys"
    folder.mkdir(exist_ok=True)
    path = folder / f"gallery{len(list(folder.iterdir()))}.key"
    GalleryKey.generate().write(path)
    return path


def gallery_path(tmp_path: Path, name: str = "faces.db") -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    return folder / name


def templates(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def cli(*args: str, timeout: float = DEADLINE_S) -> subprocess.CompletedProcess:
    """The real ``biogate`` command in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "biogate.cli.main", *args], capture_output=True, text=True, timeout=timeout
    )


class Worker:
    """A Python process running ``script``; it prints lines, and reads lines from :meth:`send`."""

    def __init__(self, script: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-c", textwrap.dedent(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        # A thread owns the pipe (select() on a buffered text pipe misses lines already read ahead).
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)  # the worker ended

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, deadline_s: float = DEADLINE_S) -> str:
        """The next line starting with ``prefix``; fails with the worker's stderr otherwise."""
        end = time.monotonic() + deadline_s
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        self.kill()
        raise AssertionError(f"worker never printed {prefix!r}; stdout {self.lines}; stderr {self.stderr()}")

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read()

    def kill(self) -> None:
        """SIGKILL, as ``kill -9`` does."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.kill()


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))
        fh.flush()
        os.fsync(fh.fileno())
