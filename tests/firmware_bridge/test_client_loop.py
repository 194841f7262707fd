"""GateClient on pyserial's ``loop://`` (no controller): typed errors, silence, arguments, keys."""

from __future__ import annotations

import threading

import pytest

from biogate.errors import ConfigError
from biogate.firmware_bridge import (
    GateClient,
    GateKey,
    GateLinkLost,
    GateProtocolError,
    GateTimeout,
    load_key,
)
from biogate.firmware_bridge.keys import generate_key_file

# A crash in the reader or heartbeat thread must fail the test, not just warn.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

KEY = bytes(range(32))


def test_loop_own_frames_are_ignored_and_the_handshake_times_out():
    with GateClient("loop://", KEY, connect=False, heartbeat_s=5, response_timeout_s=0.01, retries=1) as c:
        with pytest.raises(GateTimeout, match=r"HELLO .* no gate controller answers on loop://"):
            c.open(100)
        assert c.stats["rx_host_type"] >= 2  # both HELLOs came back as host frames and were ignored
        assert c.session_id is None


def test_loop_silence_is_link_loss():
    lost = threading.Event()
    c = GateClient("loop://", KEY, connect=False, heartbeat_s=0.2, on_link_lost=lambda e: lost.set())
    try:
        assert lost.wait(3)  # the loop only echoes host frames, which never count as answers
        with pytest.raises(GateLinkLost):
            c.status()
    finally:
        c.close()
    with pytest.raises(GateLinkLost):
        c.deny()  # closed


def test_bad_arguments():
    with pytest.raises(ConfigError, match="32 bytes"):
        GateClient("loop://", b"short")
    with pytest.raises(GateLinkLost, match="nonexistent"):
        GateClient("/dev/nonexistent-gate-port", KEY)
    with pytest.raises(GateProtocolError, match="positive"):
        GateClient("loop://", KEY, heartbeat_s=0)
    with GateClient("loop://", KEY, connect=False, heartbeat_s=5) as c, pytest.raises(
        GateProtocolError, match=r"1\.\.65535"
    ):
        c.open(0)


def test_key_files(tmp_path, monkeypatch):
    path = tmp_path / "gate.key"
    generate_key_file(str(path))
    assert (path.stat().st_mode & 0o777) == 0o600
    key = load_key(str(path))
    assert len(key) == 32 and isinstance(key, GateKey) and key.source == f"file {path}"
    assert key.hex() not in repr(key) and key.hex() not in str(key) and "gate.key" in repr(key)
    with pytest.raises(ConfigError, match="exists"):
        generate_key_file(str(path))
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key(str(path))
    bad = tmp_path / "bad.key"
    bad.write_text("zz" * 32)
    bad.chmod(0o600)
    with pytest.raises(ConfigError, match="not hex") as err:
        load_key(str(bad))
    assert "zz" not in str(err.value)
    monkeypatch.setenv("BIOGATE_GATE_KEY", key.hex())
    assert load_key() == key and load_key().source == "$BIOGATE_GATE_KEY"
    monkeypatch.delenv("BIOGATE_GATE_KEY")
    with pytest.raises(ConfigError, match="BIOGATE_GATE_KEY"):
        load_key()
