"""Replay-after-restart: the attack of issue #16 finding 3, as a reusable function.

An attacker records the serial line while a genuine host opens the door, the controller
restarts with its stored state damaged (or kept in RAM only), and the attacker plays every
recorded host frame back in the order it was captured. :func:`replay_after_restart` runs
that against the real firmware (``GateSimulator``, C host build) and returns how many of the
replayed frames the restarted controller accepted; with protocol version 2 that is 0 for
every kind of damage. ``benchmarks/bench_attacks.py`` and ``tests/security`` call it::

    from biogate.firmware_bridge.replay_attack import DAMAGES, replay_after_restart
    for damage in DAMAGES:
        result = replay_after_restart(damage, opens=20)
        assert result.accepted == 0 and result.relay_opens == 0
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from biogate.errors import ConfigError

from .client import GateClient
from .framing import build_frame
from .messages import MsgType
from .simulator import GateSimulator
from .wiretap import WireTap

#: What happens to the controller's state file between the capture and the restart.
#:   missing: removed after the controller stopped      empty: cut to 0 bytes
#:   garbage: overwritten with random bytes             truncated: cut to half its length
#:   deleted: removed while the controller was running  ram: no state file at all (RAM only)
DAMAGES = ("missing", "empty", "garbage", "truncated", "deleted", "ram")


@dataclass(frozen=True)
class ReplayResult:
    """Outcome of one run. ``accepted`` and ``relay_opens`` must be 0."""

    damage: str
    opens: int  # OPENs the genuine host had confirmed before the restart
    captured: int  # host → controller frames recorded on the wire (HELLO, commands, heartbeats)
    replayed: int  # frames played back (each capture twice: alone, then during a live session)
    accepted: int  # replayed frames the restarted controller executed
    relay_opens: int  # relay openings after the restart
    refused: int  # rejections in the restarted controller's trace

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _damage(state: Path, damage: str) -> None:
    if damage in ("missing", "deleted"):
        if state.exists():
            state.unlink()
    elif damage == "empty":
        state.write_bytes(b"")
    elif damage == "garbage":
        state.write_bytes(secrets.token_bytes(48))
    elif damage == "truncated":
        data = state.read_bytes()
        state.write_bytes(data[: len(data) // 2])


def _play(sim: GateSimulator, frames: list[bytes], port: str) -> None:
    """Write ``frames`` to the controller's port, then wait until it has handled all of them.

    A closing HELLO is the barrier: the pty is a FIFO, so once its CHALLENGE is in the trace
    every frame before it has been processed.
    """
    start = len(sim.events)
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
    try:
        for wire in frames:
            os.write(fd, wire)
        barrier = secrets.token_bytes(16)
        os.write(fd, build_frame(MsgType.HELLO, 0xBEEF, barrier, None, False))
        sim.wait_for(lambda e: e.get("ev") == "challenge" and e.get("seq") == 0xBEEF, 10.0, start)
    finally:
        os.close(fd)


def replay_after_restart(
    damage: str,
    *,
    opens: int = 20,
    key: bytes | None = None,
    workdir: str | os.PathLike | None = None,
) -> ReplayResult:
    """Capture ``opens`` genuine OPENs on the wire, restart the controller with ``damage``
    done to its state, replay every captured host frame in capture order, and count what the
    restarted controller accepted.

    The capture is replayed twice: to the bare controller (no session since the restart), and
    again while a genuine host holds a fresh session (so the old frames meet a live session
    key and live counters). The genuine host sends only heartbeats meanwhile, so any
    execution counted is a replay. ``key`` defaults to a fresh random key; ``workdir`` holds
    the state file (a temporary folder by default).
    """
    if damage not in DAMAGES:
        raise ConfigError(f"unknown state damage {damage!r}; choose one of {', '.join(DAMAGES)}")
    if opens < 1:
        raise ConfigError(f"opens must be at least 1, got {opens}")
    key = key or secrets.token_bytes(32)
    with tempfile.TemporaryDirectory(prefix="biogate-replay-") as tmp:
        state = None if damage == "ram" else Path(workdir or tmp) / "gate.state"
        with GateSimulator(key, state_path=state, trace=True) as sim, WireTap(sim.port) as tap:
            with GateClient(tap.port, key) as host:
                for i in range(opens):
                    host.open(200, reason=i & 0xFF)
                    if i % 5 == 4:
                        host.deny()
                if damage == "deleted" and state is not None:
                    _damage(state, damage)  # while the controller still runs
            captured = list(tap.to_controller)
        if state is not None:
            _damage(state, damage)
        with GateSimulator(key, state_path=state, trace=True) as sim:
            _play(sim, captured, sim.port)
            with GateClient(sim.port, key):  # a genuine host opens a new session ...
                _play(sim, captured, sim.port)  # ... and the old frames are tried again under it
            status = sim.sim_status()
            events = list(sim.events)
    return ReplayResult(
        damage=damage,
        opens=opens,
        captured=len(captured),
        replayed=2 * len(captured),
        accepted=sum(1 for e in events if e.get("ev") == "exec"),
        relay_opens=int(status["relay_opens"]),
        refused=sum(1 for e in events if e.get("ev") == "reject"),
    )
