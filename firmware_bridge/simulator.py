"""Run the real firmware core (C host build) on a pseudo-terminal.

The simulator binary is compiled on first use from the C sources shipped inside the
package (``firmware/``) with the system C compiler (``$CC``, else ``cc``) into a cache
directory (``$BIOGATE_CACHE`` or ``~/.cache/biogate``), keyed by a hash of the sources and
compiler, so a ``pip install`` needs no build step and a source change rebuilds. Set
``$BIOGATE_GATE_SIM`` to use a prebuilt binary instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Mapping

from biogate.errors import ConfigError

from .errors import SimulatorUnavailable
from .keys import check_key

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"
_SOURCES = ["core/gate.c", "core/gate_rx.c", "core/gate_session.c", "core/gate_cobs.c", "core/gate_crc.c",
            "core/gate_frame.c", "core/gate_sha256.c", "hal/host.c", "sim/gate_sim.c"]  # fmt: skip
_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Iinclude", "-Icore", "-Ihal"]
_build_lock = threading.Lock()

Event = Dict[str, Any]


def cache_dir() -> Path:
    root = os.environ.get("BIOGATE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "biogate")
    return Path(root) / "firmware"


def simulator_binary() -> Path:
    """Path of the gate-sim binary, compiling it first if needed."""
    prebuilt = os.environ.get("BIOGATE_GATE_SIM")
    if prebuilt:
        if not os.access(prebuilt, os.X_OK):
            raise SimulatorUnavailable(f"$BIOGATE_GATE_SIM={prebuilt} is not an executable file")
        return Path(prebuilt)
    cc = os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        raise SimulatorUnavailable(
            f"no C compiler '{cc}' on PATH to build the gate simulator (apt-get install gcc, or set $CC)"
        )
    digest = hashlib.sha256(cc.encode() + " ".join(_FLAGS).encode())
    for pattern in ("include/*.h", "core/*.h", "hal/*.h"):
        for header in sorted(FIRMWARE_DIR.glob(pattern)):
            digest.update(header.read_bytes())
    for src in _SOURCES:
        digest.update((FIRMWARE_DIR / src).read_bytes())
    target = cache_dir() / f"gate-sim-{digest.hexdigest()[:16]}"
    with _build_lock:
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        cmd = [cc, *_FLAGS, *_SOURCES, "-o", str(tmp)]
        proc = subprocess.run(cmd, cwd=FIRMWARE_DIR, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SimulatorUnavailable(
                f"building the gate simulator with {cc} failed:\n{proc.stderr.strip()}"
            )
        os.replace(tmp, target)
    return target


#: Simulator options (each one a ``gate-sim`` flag): default, lowest, highest. Probabilities
#: are floats; everything else is a whole number (``max_open_ms``: the OPEN field's 16 bits).
SIM_OPTIONS: dict[str, tuple[Any, Any, Any]] = {
    "heartbeat_ms": (1000, 1, 0xFFFFFFFF),
    "max_open_ms": (10000, 1, 0xFFFF),
    "door_held_ms": (15000, 1, 0xFFFFFFFF),
    "corrupt": (0.0, 0.0, 1.0),
    "drop": (0.0, 0.0, 1.0),
    "dup": (0.0, 0.0, 1.0),
    "delay_ms": (0, 0, 60000),
    "seed": (1, 0, 0xFFFFFFFF),
}


def check_sim_options(
    options: Mapping[str, Any], state_path: str | os.PathLike | None = None, flag_prefix: str = ""
) -> dict[str, Any]:
    """Every option of :data:`SIM_OPTIONS` with defaults filled in, after checking each one.

    Raises one :class:`ConfigError` naming the first bad option; ``flag_prefix="--"`` names
    CLI flags (``--heartbeat-ms``) instead of keyword arguments (``heartbeat_ms``).
    """

    def name(key: str) -> str:
        return flag_prefix + key.replace("_", "-") if flag_prefix else key

    unknown = sorted(set(options) - set(SIM_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown gate simulator option {unknown[0]!r}; valid: {', '.join(SIM_OPTIONS)}")
    values = {}
    for key, (default, low, high) in SIM_OPTIONS.items():
        value = options.get(key, default)
        if isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ConfigError(f"gate simulator {name(key)} must be a probability in 0..1, got {value!r}")
            value = float(value)
        elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(
                f"gate simulator {name(key)} must be a whole number in {low}..{high}, got {value!r}"
            )
        values[key] = value
    if state_path is not None:
        path = Path(state_path)
        if path.is_dir():
            raise ConfigError(f"gate simulator {name('state')} {path} is a folder, not a file")
        if not path.parent.is_dir():
            raise ConfigError(f"gate simulator {name('state')} {path}: folder {path.parent} does not exist")
    return values


class GateSimulator:
    """The firmware on a pty: ``port`` is the device path; ``events`` collects its trace.

    ``options`` are those of :data:`SIM_OPTIONS` (``heartbeat_ms``, ``max_open_ms``,
    ``door_held_ms``, ``corrupt``, ``drop``, ``dup``, ``delay_ms``, ``seed``), each a
    ``gate-sim`` flag (see ``firmware/sim/gate_sim.c``) and checked by
    :func:`check_sim_options`; fault probabilities apply in both directions: ``corrupt`` per
    byte, ``drop``/``dup`` per frame. ``state_path`` is the controller's NV storage (its boot
    count, written atomically); without it nothing is stored, which protocol version 2 makes
    safe: sessions never outlive a reset. ``fail_random`` breaks the entropy source (the
    controller must then refuse every handshake). ``trace=False`` silences the per-frame trace
    (latency measurements); ``keep_events=False`` keeps only counts (long runs).
    """

    def __init__(
        self,
        key: bytes,
        *,
        state_path: str | os.PathLike | None = None,
        fail_random: bool = False,
        keep_events: bool = True,
        trace: bool = True,
        **options: Any,
    ) -> None:
        self._key = check_key(key)
        values = check_sim_options(options, state_path)
        self.args = (
            ["--exit-on-eof"] + (["--trace"] if trace else []) + (["--fail-random"] if fail_random else [])
        )
        for key_name, value in values.items():
            self.args += ["--" + key_name.replace("_", "-"), repr(value)]
        if state_path is not None:
            self.args += ["--state", str(state_path)]
        self.state_path = None if state_path is None else Path(state_path)
        self.keep_events = keep_events
        self.events: list[Event] = []
        self.counts: dict[str, int] = {}
        self.port: str | None = None
        #: exit status and stderr once stopped (a sanitizer build reports here)
        self.returncode: int | None = None
        self.stderr_text = ""
        self.killed = False
        self._cond = threading.Condition()
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self.listeners: list[Callable[[Event], None]] = []

    def start(self) -> GateSimulator:
        env = dict(os.environ, BIOGATE_GATE_KEY=self._key.hex())
        try:
            self._proc = subprocess.Popen(
                [str(simulator_binary()), *self.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=env, text=True, bufsize=1,
            )  # fmt: skip
        except OSError as exc:
            raise SimulatorUnavailable(f"cannot start the gate simulator: {exc}") from None
        first = self._proc.stdout.readline()
        if not first.startswith("PTY "):
            err = self._proc.stderr.read() if self._proc.poll() is not None else ""
            self.stop()
            raise SimulatorUnavailable(f"gate simulator did not start: {(first + err).strip()}")
        self.port = first.split(" ", 1)[1].strip()
        self._reader = threading.Thread(target=self._read_trace, name="gate-sim-trace", daemon=True)
        self._reader.start()
        return self

    def _read_trace(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stream = self._proc.stdout
        while True:
            try:
                line = stream.readline()
            except (ValueError, OSError):  # stop() closed stdout after its join timed out
                break
            if not line:
                break
            self._trace_event(line)
        with self._cond:
            self._cond.notify_all()

    def _trace_event(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        key = event.get("ev", "?")
        with self._cond:
            self.counts[key] = self.counts.get(key, 0) + 1
            if self.keep_events or key in ("status", "reboot"):
                self.events.append(event)
            self._cond.notify_all()
        for listener in list(self.listeners):
            listener(event)

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 5.0, start: int = 0) -> Event:
        """Block until a trace event from index ``start`` on satisfies ``predicate``; return it."""
        deadline = time.monotonic() + timeout
        checked = start
        with self._cond:
            while True:
                for event in self.events[checked:]:
                    if predicate(event):
                        return event
                checked = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    raise TimeoutError(f"gate simulator: no matching trace event within {timeout} s")
                self._cond.wait(left)

    def command(self, line: str) -> None:
        """Send a stdin command: 'door open', 'door close', 'tamper on', 'tamper off', 'reboot'."""
        if self._proc is None or self._proc.stdin is None:
            raise SimulatorUnavailable("gate simulator is not running")
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()

    def sim_status(self, timeout: float = 5.0) -> Event:
        """The simulator's own counters (relay opens, injected faults, last counter)."""
        start = len(self.events)
        self.command("status")
        return self.wait_for(lambda e: e.get("ev") == "status", timeout, start)

    def reboot(self, timeout: float = 5.0) -> Event:
        """Reset the controller in place (same pty): sessions are lost, NV state is reloaded."""
        start = len(self.events)
        self.command("reboot")
        return self.wait_for(lambda e: e.get("ev") == "reboot", timeout, start)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """Kill the simulator abruptly (the link dies as if the cable were cut)."""
        if self._proc is not None and self._proc.poll() is None:
            self.killed = True
            self._proc.kill()
            self._proc.wait()

    def stop(self) -> None:
        """Ask the simulator to quit (it closes the relay first) and wait for it."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self.command("quit")
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, SimulatorUnavailable):
                self.killed = True
                proc.kill()
                proc.wait()
        self.returncode = proc.returncode
        if proc.stderr is not None and not proc.stderr.closed:
            with contextlib.suppress(OSError, ValueError):
                self.stderr_text = proc.stderr.read()
        # The process has exited: let the trace reader drain stdout to EOF before closing it.
        if self._reader is not None:
            self._reader.join(timeout=5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> GateSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
