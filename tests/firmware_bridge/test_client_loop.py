"""GateClient on pyserial's ``loop://``: framing, typed errors and event handling without a controller."""

from __future__ import annotations

import logging
import threading

import pytest

from biogate.errors import ConfigError
from biogate.firmware_bridge import (
    EventKind,
    GateClient,
    GateLinkLost,
    GateProtocolError,
    GateTimeout,
    load_key,
)
from biogate.firmware_bridge import messages as m
from biogate.firmware_bridge.framing import build_frame
from biogate.firmware_bridge.keys import generate_key_file

# A crash in the reader or heartbeat thread must fail the test, not just warn.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

KEY = bytes(range(32))


def test_loop_own_frames_are_ignored_and_commands_time_out():
    with GateClient(
        "loop://", KEY, sync_counter=False, heartbeat_s=5, response_timeout_s=0.01, retries=1
    ) as c:
        with pytest.raises(GateTimeout):
            c.open(100)
        assert c.stats["rx_host_type"] >= 2  # both attempts came back as host frames and were ignored


def test_loop_events_are_delivered_once_and_forgeries_dropped(caplog):
    got = []
    done = threading.Event()

    def on_event(event):
        got.append(event)
        if event.kind == EventKind.TAMPER:
            done.set()

    with GateClient("loop://", KEY, sync_counter=False, heartbeat_s=5, on_event=on_event) as c:
        forced = build_frame(m.MsgType.EVENT, 1, m.pack_body(m.MsgType.EVENT, 1, 10), KEY, True)
        forged = build_frame(m.MsgType.EVENT, 2, m.pack_body(m.MsgType.EVENT, 2, 11), bytes(32), True)
        tamper = build_frame(m.MsgType.EVENT, 3, m.pack_body(m.MsgType.EVENT, 3, 12), KEY, True)
        with caplog.at_level(logging.DEBUG):
            c.send_raw(forced + forced + forged + b"\x01\x02garbage\x00" + tamper)
            assert done.wait(5)
        assert [e.kind for e in got] == [EventKind.DOOR_FORCED, EventKind.TAMPER]
        assert c.stats["rx_tag"] == 1 and c.stats["rx_dup_event"] == 1
        assert KEY.hex() not in caplog.text and "bad tag" in caplog.text
        assert KEY.hex() not in repr(c)


def test_loop_silence_is_link_loss():
    lost = threading.Event()
    c = GateClient("loop://", KEY, sync_counter=False, heartbeat_s=0.2, on_link_lost=lambda e: lost.set())
    try:
        assert lost.wait(3)  # the loop only echoes host frames, which never count as answers
        with pytest.raises(GateLinkLost):
            c.status()
    finally:
        c.close()
    with pytest.raises(GateLinkLost):
        c.deny()  # closed


def test_callback_errors_do_not_kill_the_link():
    called = threading.Event()

    def bad_callback(event):
        called.set()
        raise RuntimeError("integrator bug")

    with GateClient("loop://", KEY, sync_counter=False, heartbeat_s=5, on_event=bad_callback) as c:
        c.send_raw(build_frame(m.MsgType.EVENT, 1, m.pack_body(m.MsgType.EVENT, 4, 1), KEY, True))
        assert called.wait(5)
        assert c.link_ok


def test_bad_arguments():
    with pytest.raises(ConfigError, match="32 bytes"):
        GateClient("loop://", b"short")
    with pytest.raises(GateLinkLost, match="nonexistent"):
        GateClient("/dev/nonexistent-gate-port", KEY)
    with GateClient("loop://", KEY, sync_counter=False, heartbeat_s=5) as c, pytest.raises(
        GateProtocolError, match=r"1\.\.65535"
    ):
        c.open(0)


def test_key_files(tmp_path, monkeypatch):
    path = tmp_path / "gate.key"
    generate_key_file(str(path))
    assert (path.stat().st_mode & 0o777) == 0o600
    key = load_key(str(path))
    assert len(key) == 32
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
    assert load_key() == key
    monkeypatch.delenv("BIOGATE_GATE_KEY")
    with pytest.raises(ConfigError, match="BIOGATE_GATE_KEY"):
        load_key()
