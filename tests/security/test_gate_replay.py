"""Issue #16, finding 3 and the gate items of 9: hostile tests against the real firmware.

Each test fails on the old main (protocol version 1: one stored counter, reset to 0 when
its state was lost or kept in RAM; a wrong key reported as "STATUS_REQ unanswered";
gate-sim and gate accepting out-of-range flags) and passes with protocol version 2.
The replays come from :func:`biogate.firmware_bridge.replay_attack.replay_after_restart`:
frames sniffed on the wire (``WireTap``) while a genuine host opened the door, played back
in capture order to the restarted controller, then again under a fresh genuine session.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from biogate.firmware_bridge import (
    GateClient,
    GateKey,
    GateKeyMismatch,
    GateSimulator,
    generate_key_file,
    load_key,
)
from biogate.firmware_bridge.replay_attack import replay_after_restart


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage", "truncated", "deleted"])
def test_captured_frames_are_refused_after_a_restart_with_damaged_state(damage, tmp_path):
    result = replay_after_restart(damage, opens=12, workdir=tmp_path)
    assert result.captured > 12 and result.replayed == 2 * result.captured
    assert result.accepted == 0 and result.relay_opens == 0, result


def test_captured_frames_are_refused_after_a_restart_of_a_ram_only_controller():
    # gate-sim without --state, and the kiosk's port = "sim", keep nothing across a restart.
    result = replay_after_restart("ram", opens=12)
    assert result.accepted == 0 and result.relay_opens == 0, result


def _cli(*args: str, env_key: bytes | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    env = None if env_key is None else dict(os.environ, BIOGATE_GATE_KEY=env_key.hex())
    return subprocess.run(
        [sys.executable, "-m", "biogate.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_a_wrong_gate_key_is_reported_as_a_wrong_key(tmp_path):
    right, wrong = tmp_path / "right.key", tmp_path / "wrong.key"
    generate_key_file(str(right))
    generate_key_file(str(wrong))
    with GateSimulator(load_key(str(right))) as sim:
        with pytest.raises(GateKeyMismatch, match=r"wrong\.key"):
            GateClient(sim.port, load_key(str(wrong)))
        proc = _cli("gate", "status", "--port", sim.port, "--key-file", str(wrong))
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "wrong.key" in lines[0] and "does not match" in lines[0], proc.stderr
        assert "unanswered" not in proc.stderr and "Traceback" not in proc.stderr
        proc = _cli("gate", "open", "--port", sim.port, env_key=bytes(range(32)))
        assert proc.returncode == 2 and "$BIOGATE_GATE_KEY" in proc.stderr, proc.stderr
        assert bytes(range(32)).hex() not in proc.stderr
        assert sim.sim_status()["relay_opens"] == 0
    key = GateKey(bytes(32), "file /etc/biogate/gate.key")
    assert "/etc/biogate/gate.key" in repr(key) and bytes(32).hex() not in repr(key)


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--heartbeat-ms", "0"], "--heartbeat-ms"),
        (["--heartbeat-ms", "-5"], "--heartbeat-ms"),
        (["--max-open-ms", "0"], "--max-open-ms"),
        (["--max-open-ms", "70000"], "--max-open-ms"),
        (["--door-held-ms", "-1"], "--door-held-ms"),
        (["--delay-ms", "-3"], "--delay-ms"),
        (["--seed", "-1"], "--seed"),
        (["--duration", "-1"], "--duration"),
        (["--state", "{tmp}/no-such-folder/gate.state"], "no-such-folder"),
        (["--state", "{tmp}"], "is a folder"),
    ],
)
def test_gate_sim_validates_its_flags(flags, named, tmp_path):
    flags = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    proc = _cli("gate-sim", "--duration", "0.2", *flags, env_key=bytes(range(32)))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], proc.stderr
    assert "gate simulator on" not in proc.stdout  # nothing started


@pytest.mark.parametrize(
    "flags, named",
    [
        (["open", "--duration-ms", "0"], "--duration-ms"),
        (["open", "--duration-ms", "70000"], "--duration-ms"),
        (["deny", "--reason", "300"], "--reason"),
        (["status", "--baudrate", "0"], "--baudrate"),
    ],
)
def test_gate_validates_its_flags_before_touching_the_port(flags, named):
    proc = _cli("gate", *flags, "--port", "/dev/nonexistent-gate-port", env_key=bytes(range(32)))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "nonexistent" not in lines[0], proc.stderr
