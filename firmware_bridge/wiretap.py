"""A man in the middle on the gate's serial line, for attack tests and benchmarks.

:class:`WireTap` creates a pseudo-terminal for the host (``tap.port``) and forwards every
frame between it and the controller's port, recording both directions frame by frame, as
an attacker with a probe on the UART wires would. It can also drop frames towards the host
(``hold_to_host``) and inject bytes in either direction. POSIX only (ptys); host-side
tooling, never needed on a device.

    with GateSimulator(key) as sim, WireTap(sim.port) as tap, GateClient(tap.port, key) as gate:
        gate.open(500)
        sniffed = list(tap.to_controller)      # HELLO, STATUS?, OPEN, heartbeats ... as sent
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from typing import Callable

_MAX_PARTIAL = 4096  # bytes without a delimiter kept per direction before they are flushed


class WireTap:
    """Forward frames between a host-side pty and ``controller_port``, recording them."""

    def __init__(self, controller_port: str) -> None:
        self.controller_port = controller_port
        #: frames (delimiter included) host → controller and controller → host, in wire order
        self.to_controller: list[bytes] = []
        self.to_host: list[bytes] = []
        #: while True, frames from the controller are recorded but not passed to the host
        self.hold_to_host = False
        self.port: str | None = None
        self._lock = threading.Lock()
        self._recorded = threading.Condition()
        self._fds: dict = {}
        self._thread: threading.Thread | None = None

    def start(self) -> WireTap:
        master, slave = os.openpty()
        tty.setraw(slave)  # the host's end: no line discipline between host and tap
        ctrl = os.open(self.controller_port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(ctrl)
        wake_r, wake_w = os.pipe()
        self._fds = {"master": master, "slave": slave, "ctrl": ctrl, "wake_r": wake_r, "wake_w": wake_w}
        self.port = os.ttyname(slave)
        self._thread = threading.Thread(target=self._run, name="gate-wiretap", daemon=True)
        self._thread.start()
        return self

    def inject_to_controller(self, wire: bytes) -> None:
        """Write bytes to the controller as if the host had sent them."""
        with self._lock:
            os.write(self._fds["ctrl"], wire)

    def inject_to_host(self, wire: bytes) -> None:
        """Write bytes to the host as if the controller had sent them."""
        with self._lock:
            os.write(self._fds["master"], wire)

    def wait_recorded(self, to_host: int = 0, to_controller: int = 0, timeout: float = 5.0) -> bool:
        """Block until at least this many frames were recorded each way; False on timeout."""
        return self.wait_until(
            lambda tap: len(tap.to_host) >= to_host and len(tap.to_controller) >= to_controller, timeout
        )

    def wait_until(self, predicate: Callable[[WireTap], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate(tap)`` holds, checked as each frame is recorded; False on timeout."""
        with self._recorded:
            return self._recorded.wait_for(lambda: predicate(self), timeout)

    def _run(self) -> None:
        fds = self._fds
        partial = {fds["master"]: bytearray(), fds["ctrl"]: bytearray()}
        route = {fds["master"]: (fds["ctrl"], self.to_controller), fds["ctrl"]: (fds["master"], self.to_host)}
        while True:
            try:
                ready, _, _ = select.select([fds["master"], fds["ctrl"], fds["wake_r"]], [], [])
            except (OSError, ValueError):
                return
            if fds["wake_r"] in ready:
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the other end went away (simulator killed): keep the tap alive
                    data = b""
                if not data:
                    continue
                out, log = route[fd]
                buf = partial[fd]
                buf.extend(data)
                while True:
                    end = buf.find(b"\x00")
                    if end < 0:
                        break
                    frame = bytes(buf[: end + 1])
                    del buf[: end + 1]
                    with self._recorded:
                        log.append(frame)
                        self._recorded.notify_all()
                    if not (fd == fds["ctrl"] and self.hold_to_host):
                        self._write(out, frame)
                if len(buf) > _MAX_PARTIAL:
                    self._write(out, bytes(buf))
                    buf.clear()

    def _write(self, fd: int, data: bytes) -> None:
        with self._lock, contextlib.suppress(OSError):
            os.write(fd, data)

    def stop(self) -> None:
        """Stop forwarding and close the tap's descriptors (idempotent)."""
        if not self._fds:
            return
        os.write(self._fds["wake_w"], b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = {}

    def __enter__(self) -> WireTap:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
