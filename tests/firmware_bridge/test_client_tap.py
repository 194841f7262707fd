"""GateClient and the firmware with a man in the middle on the line (``WireTap``).

The tap records what an attacker probing the UART would see, and lets the tests replay,
forge, suppress and inject frames in either direction against the real firmware.
"""

from __future__ import annotations

import threading

import pytest

from biogate.firmware_bridge import EventKind, Fault, GateSessionLost, GateTimeout, MsgType
from biogate.firmware_bridge import messages as m
from biogate.firmware_bridge.framing import build_frame, parse_frame
from biogate.firmware_bridge.vectors import build_vectors
from biogate.firmware_bridge.wiretap import WireTap

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def tapped(make_sim):
    taps = []

    def factory(**options):
        sim = make_sim(**options)
        tap = WireTap(sim.port).start()
        taps.append(tap)
        return sim, tap

    yield factory
    for tap in taps:
        tap.stop()


def _types(frames):
    return [parse_frame(f[:-1], m.payload_len, m.has_tag).type for f in frames]


def test_controller_frames_replayed_or_forged_at_the_host_are_dropped(tapped, make_client, key):
    sim, tap = tapped()
    got, forced = [], threading.Event()

    def on_event(event):
        got.append(event.kind)
        if event.kind == EventKind.DOOR_FORCED:
            forced.set()

    client = make_client(tap.port, on_event=on_event)
    sim.command("door open")
    assert forced.wait(5)
    client.status()
    recorded = [f for f in tap.to_host if _types([f])[0] == MsgType.EVENT]
    assert recorded, "the tap saw the EVENT frames"
    forged = build_frame(MsgType.EVENT, 9, m.pack_body(MsgType.EVENT, 3, 1, counter=10**6), bytes(32), True)
    tap.inject_to_host(b"".join(recorded) + forged + b"\x01\x02garbage\x00")
    client.status()  # its answer comes after the injected frames: they have been handled
    assert got.count(EventKind.DOOR_FORCED) == 1 and EventKind.TAMPER not in got
    assert client.stats["rx_replay"] >= len(recorded) and client.stats["rx_tag"] >= 1
    assert key.hex() not in repr(client)


def test_callback_errors_do_not_kill_the_link(tapped, make_client):
    sim, tap = tapped()
    called = threading.Event()

    def bad_callback(event):
        if event.kind == EventKind.TAMPER:
            called.set()
        raise RuntimeError("integrator bug")

    client = make_client(tap.port, on_event=bad_callback)
    sim.command("tamper on")
    assert called.wait(5)
    assert client.link_ok and Fault.TAMPER in client.status().faults


def test_frames_of_an_older_session_are_refused(tapped, make_client):
    sim, tap = tapped()
    first = make_client(tap.port)
    old = [first.open(100) for _ in range(3)]
    first.close()
    captured = list(tap.to_controller)
    assert _types(captured)[0] == MsgType.HELLO and _types(captured).count(MsgType.OPEN) == 3
    second = make_client(tap.port)
    assert second.session_id != old[0].session_id
    start = len(sim.events)
    tap.inject_to_controller(b"".join(captured))  # in capture order, HELLO first
    ack = second.open(100)  # ... and the genuine host's session is untouched by the refusals
    execs = [e for e in sim.events[start:] if e["ev"] == "exec"]
    assert [(e["sid"], e["counter"]) for e in execs] == [(ack.session_id, ack.counter)]
    assert second.stats["sessions_lost"] == 0 and second.stats["rx_stale_refuse"] >= 3


def test_command_in_flight_when_the_controller_resets(tapped, make_client):
    """The ACK of an executed OPEN is lost and the controller resets: GateSessionLost, not re-sent.

    Every step waits on an event (a trace line, a frame recorded by the tap), never on the clock:
    the client's retry budget (retries x response_timeout_s) and link supervision (heartbeat_s)
    are far longer than any step can take under load, so only the reset can end the exchange.
    """
    sim, tap = tapped()
    client = make_client(tap.port, heartbeat_s=600.0, response_timeout_s=0.1, retries=100_000)
    outcome = {}
    tap.hold_to_host = True  # the ACK never reaches the host ...

    def run():
        try:
            outcome["ack"] = client.open(1000)
        except Exception as exc:  # collected for the assertion below
            outcome["error"] = exc

    def acked(seq):
        frames = (parse_frame(f[:-1], m.payload_len, m.has_tag) for f in list(tap.to_host))
        return any(f.type == MsgType.ACK and f.seq == seq for f in frames)

    worker = threading.Thread(target=run)
    worker.start()
    executed = sim.wait_for(lambda e: e["ev"] == "exec", timeout=60)
    assert tap.wait_until(
        lambda _: acked(executed["seq"]), 60
    )  # the OPEN's ACK reached the tap, and stopped there
    sim.reboot(timeout=60)  # ... and the controller resets while the client still retransmits
    tap.hold_to_host = False
    worker.join(60)
    assert isinstance(outcome.get("error"), GateSessionLost), outcome
    assert "not re-sent" in str(outcome["error"])
    ack = client.open(500)  # a new session, opened by the client itself
    # The ACK can overtake the trace line of its execution: wait for that line, then count.
    sim.wait_for(lambda e: e["ev"] == "exec" and e["sid"] == ack.session_id, timeout=60)
    execs = [e for e in sim.events if e["ev"] == "exec"]
    assert len(execs) == 2 and execs[1]["sid"] == ack.session_id != execs[0]["sid"]


def test_a_version_1_controller_is_named_in_the_timeout(tapped, make_client):
    _, tap = tapped(drop=1.0)  # the controller hears nothing; the tap plays an old one
    rejects = {c["name"]: bytes.fromhex(c["wire"]) for c in build_vectors()["rejects"]}
    v1_frame = rejects["protocol_v1_open"]  # version 1's OPEN test vector
    client = make_client(tap.port, connect=False, heartbeat_s=5.0, response_timeout_s=0.02, retries=1)
    tap.inject_to_host(v1_frame)
    with pytest.raises(GateTimeout, match="protocol version 1, this host speaks 2"):
        client.status()
