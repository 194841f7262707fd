"""GateClient against the real firmware core (C host build) over a real pseudo-terminal."""

from __future__ import annotations

import threading
import time

import pytest

from biogate.firmware_bridge import (
    EventKind,
    Fault,
    GateLinkLost,
    GateNak,
    GateProtocolError,
    GateTimeout,
    NakCode,
)
from biogate.firmware_bridge import messages as m
from biogate.firmware_bridge.framing import build_frame, cobs_encode

# A crash in the reader or heartbeat thread must fail the test, not just warn.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

SLACK_S = 0.25  # thread wake-up jitter on a loaded 2-core CI machine


def relay_events(sim):
    sim.sim_status()
    return [e for e in sim.events if e["ev"] == "relay"]


def execs(sim):
    """Executed commands so far; the status round trip first flushes the trace pipe."""
    sim.sim_status()
    return [e for e in sim.events if e["ev"] == "exec"]


def test_every_message_over_pty(make_sim, make_client):
    sim = make_sim(max_open_ms=5000)
    client = make_client(sim.port)
    # STATUS at connect carries the POWER flag latched at boot.
    assert client.connect_status is not None and Fault.POWER in client.connect_status.faults
    assert client.connect_status.firmware_version == "2.0" and client.connect_status.boot_count == 0
    assert client.session_id is not None

    ack = client.open(3000, reason=7)
    assert ack.counter >= 2 and ack.attempts == 1 and ack.session_id == client.session_id
    sim.wait_for(lambda e: e["ev"] == "relay" and e["on"] == 1)
    st = client.status()
    assert st.relay_open and st.faults == Fault(0)

    client.deny(reason=2)
    sim.wait_for(lambda e: e["ev"] == "relay" and e["on"] == 0 and e["reason"] == "deny")
    client.alarm(kind=3)
    sim.wait_for(lambda e: e["ev"] == "alarm" and e["kind"] == 3)
    assert not client.status().relay_open
    assert [e["type"] for e in execs(sim)] == [m.MsgType.OPEN, m.MsgType.DENY, m.MsgType.ALARM]
    counters = [e["counter"] for e in execs(sim)]
    assert counters == sorted(set(counters)) and counters[0] == ack.counter
    assert {e["sid"] for e in execs(sim)} == {client.session_id}

    with pytest.raises(GateNak) as err:
        client.open(6000)  # above the controller's 5 s maximum
    assert err.value.code == NakCode.VALUE


def test_heartbeats_keep_the_session_and_the_relay_alive(make_sim, make_client):
    # The controller closes the relay after 300 ms without a verified host frame; authenticated
    # heartbeats (every 62.5 ms) keep it open until the OPEN's own deadline.
    sim = make_sim(heartbeat_ms=300)
    client = make_client(sim.port, heartbeat_s=0.25)
    client.open(1500)
    closed = sim.wait_for(lambda e: e["ev"] == "relay" and e["on"] == 0, timeout=5)
    assert closed["reason"] == "expired"
    assert client.stats["rx_unmatched"] > 0  # the heartbeats' ACKs


def test_unsolicited_events_reach_the_callback(make_sim, make_client):
    sim = make_sim(door_held_ms=200)
    got = []
    seen = {kind: threading.Event() for kind in EventKind}

    def on_event(event):
        got.append(event.kind)
        seen[event.kind].set()

    client = make_client(sim.port, on_event=on_event)
    sim.command("door open")  # relay is closed: forced
    assert seen[EventKind.DOOR_FORCED].wait(5)
    assert seen[EventKind.DOOR_HELD_OPEN].wait(5)
    sim.command("tamper on")
    assert seen[EventKind.TAMPER].wait(5)
    st = client.status()
    assert {Fault.DOOR_FORCED, Fault.DOOR_HELD_OPEN, Fault.TAMPER} <= set(
        Fault(f) for f in Fault if f & st.faults
    )
    assert st.door_open
    assert got.count(EventKind.DOOR_FORCED) == 1


def test_retries_and_deduplication_under_loss(make_sim, make_client):
    # 25% of frames dropped and 25% duplicated in each direction.
    sim = make_sim(drop=0.25, dup=0.25, seed=7)
    client = make_client(sim.port, response_timeout_s=0.03, retries=12)
    acks = [client.open(50) for _ in range(40)]
    assert sum(a.attempts > 1 for a in acks) > 0, "no retransmission happened"
    assert client.stats["retransmits"] > 0
    counters = [e["counter"] for e in execs(sim)]
    assert counters == [a.counter for a in acks], "each command ran exactly once, in order"
    assert sim.counts.get("dup", 0) > 0, "retransmissions of executed commands were answered, not re-run"


def test_heartbeat_loss_closes_the_relay(make_sim, make_client):
    sim = make_sim(heartbeat_ms=300, max_open_ms=10000)
    client = make_client(sim.port, heartbeat_s=0.1)
    client.open(10000)
    opened = sim.wait_for(lambda e: e["ev"] == "relay" and e["on"] == 1)
    client.close()  # heartbeats stop
    closed = sim.wait_for(lambda e: e["ev"] == "relay" and e["on"] == 0, timeout=5)
    assert closed["reason"] == "heartbeat_lost"
    assert 300 <= closed["t"] - opened["t"] < 2000


def test_host_detects_a_silent_link_within_two_periods(make_sim, make_client):
    sim = make_sim()
    lost = threading.Event()
    client = make_client(sim.port, heartbeat_s=0.5, on_link_lost=lambda exc: lost.set())
    client.status()
    t0 = time.monotonic()
    sim.kill()
    assert lost.wait(5)
    # Nominal bound 1.625 periods (1.5 + a quarter-probe tick); the rest is scheduler slack.
    assert time.monotonic() - t0 < 2 * 0.5 + SLACK_S
    with pytest.raises(GateLinkLost):
        client.status()


def test_host_detects_a_link_that_answers_nothing(make_sim, make_client):
    sim = make_sim(drop=1.0)  # the controller hears nothing and says nothing
    lost = threading.Event()
    t0 = time.monotonic()
    client = make_client(sim.port, heartbeat_s=0.5, connect=False, on_link_lost=lambda exc: lost.set())
    assert lost.wait(5)
    assert time.monotonic() - t0 < 2 * 0.5 + SLACK_S
    with pytest.raises(GateLinkLost):
        client.open(100)


def test_link_dying_mid_command(make_sim, make_client):
    sim = make_sim(delay_ms=400)  # the ACK sits in the controller's output when the link dies
    client = make_client(sim.port, heartbeat_s=2.0, response_timeout_s=0.5, retries=3)
    outcome = {}

    def run():
        try:
            outcome["ack"] = client.open(1000)
        except Exception as exc:  # collected for the assertion below
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    sim.wait_for(lambda e: e["ev"] == "exec")
    sim.kill()
    worker.join(10)
    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), GateLinkLost)


def test_forged_frames_are_refused_and_burn_no_counter(make_sim, make_client):
    sim = make_sim()
    client = make_client(sim.port)
    client.open(100)
    sim.wait_for(lambda e: e["ev"] == "relay" and e["on"] == 0)
    forged = build_frame(
        m.MsgType.OPEN, 1000, m.pack_body(m.MsgType.OPEN, 100, 0, counter=77), bytes(32), True
    )
    client.send_raw(forged)  # right layout, a key nobody holds
    sim.wait_for(lambda e: e["ev"] == "reject" and e["error"] == "tag")
    client.status()
    assert len([e for e in relay_events(sim) if e["on"] == 1]) == 1
    assert len(execs(sim)) == 1
    assert client.open(100).counter < 77  # the forged counter was not accepted
    assert client.stats["sessions_lost"] == 0  # the REFUSE named a frame this host never sent


def test_truncated_oversized_and_garbage_frames(make_sim, make_client):
    sim = make_sim()
    client = make_client(sim.port)
    good = build_frame(m.MsgType.OPEN, 500, m.pack_body(m.MsgType.OPEN, 100, 0, counter=50), bytes(32), True)
    client.send_raw(good[: len(good) // 2] + b"\x00")  # truncated
    client.send_raw(bytes(range(1, 256)) * 3 + b"\x00")  # oversized
    client.send_raw(bytes([0x13, 0x37, 0xC0, 0xFF, 0xEE, 0x00, 0x00, 0x05, 0x01]))  # garbage
    client.send_raw(cobs_encode(b"\x01\x55\x00\x00\x00") + b"\x00")  # too short, bad CRC
    sim.wait_for(lambda e: e["ev"] == "reject" and e["error"] == "oversize")
    ack = client.open(100)  # the link still works; nothing ran before
    assert [e["counter"] for e in execs(sim)] == [ack.counter]
    errors = {e["error"] for e in sim.events if e["ev"] == "reject"}
    assert {"oversize", "cobs"} <= errors or {"oversize", "short"} <= errors


def test_each_client_opens_its_own_session(make_sim, make_client):
    sim = make_sim()
    first = make_client(sim.port)
    acks = [first.open(100) for _ in range(3)]
    first.close()
    second = make_client(sim.port)  # a new handshake: new session key, counters from 1
    ack = second.open(100)
    assert ack.session_id != acks[0].session_id and ack.counter < acks[-1].counter + 10
    assert [(e["sid"], e["counter"]) for e in execs(sim)] == [(a.session_id, a.counter) for a in [*acks, ack]]


def test_controller_reset_is_a_transparent_rehandshake(make_sim, make_client):
    sim = make_sim()
    client = make_client(sim.port, heartbeat_s=0.25)
    before = client.open(100)
    start = len(sim.events)
    sim.reboot()  # sessions live in RAM: the host's session is gone
    sim.wait_for(lambda e: e["ev"] == "session", timeout=5, start=start)  # the heartbeat thread re-handshook
    after = client.open(100)
    assert after.session_id != before.session_id and after.attempts == 1
    assert client.stats["sessions_lost"] == 1 and client.stats["sessions"] == 2
    assert Fault.POWER in client.status().faults  # latched at the reset, reported in the new session


def test_timeout_is_typed_and_does_not_hang(make_sim, make_client):
    sim = make_sim(drop=1.0)
    client = make_client(sim.port, heartbeat_s=5.0, connect=False, response_timeout_s=0.02, retries=2)
    with pytest.raises(GateTimeout, match="HELLO") as err:
        client.open(100)  # the handshake never completes, so the OPEN is never even sent
    assert err.value.counter == 0
    assert client.stats["retransmits"] >= 2


def test_a_controller_without_entropy_opens_no_session(make_sim, make_client):
    sim = make_sim(fail_random=True)
    with pytest.raises(GateProtocolError, match="entropy source failed"):
        make_client(sim.port)
    assert sim.sim_status()["relay_opens"] == 0 and sim.sim_status()["sid"] == 0
