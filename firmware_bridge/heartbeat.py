"""Link supervision of :class:`~biogate.firmware_bridge.client.GateClient`: the heartbeat thread.

pyserial's ``read()`` never raises on a timeout, so silence becomes
:class:`~biogate.firmware_bridge.errors.GateLinkLost` here: a HEARTBEAT every ``heartbeat_s/4``
(or a HELLO while there is no usable session, which re-opens it), and the link declared lost after
``1.5 * heartbeat_s`` without a valid frame.
"""

from __future__ import annotations

import time

import serial

from . import messages as m
from .errors import GateLinkLost
from .framing import CRC_LEN, HEADER_LEN, encode_wire, frame_bytes
from .session import ref_of


class Heartbeat:
    """The heartbeat thread's loop and probe (a part of :class:`GateClient`)."""

    def _heartbeat_loop(self) -> None:
        probe_s = self.heartbeat_s / 4
        limit_s = 1.5 * self.heartbeat_s
        next_probe = time.monotonic()
        # Wake twice per probe interval so silence is noticed well inside 2 periods.
        while not self._stop.wait(probe_s / 2):
            now = time.monotonic()
            if now - self._last_rx > limit_s and self._error is None:
                self._link_down(
                    GateLinkLost(
                        f"no answer from the gate controller on {self.port_url} for "
                        f"{now - self._last_rx:.2f} s (heartbeat period {self.heartbeat_s:.2f} s)"
                    )
                )
            if self._fatal:
                return
            if now < next_probe:
                continue
            next_probe = now + probe_s
            # Only while nothing is in flight: a frame waiting for its answer probes the link
            # itself, and a heartbeat numbered after it must not overtake its retransmissions.
            if not self._cmd_lock.acquire(blocking=False):
                continue
            try:
                self._probe()
            except (serial.SerialException, OSError) as exc:
                self._on_connection_lost(exc)
                return
            finally:
                self._cmd_lock.release()

    def _probe(self) -> None:
        """One heartbeat in the session, or (without a usable session) one HELLO; never blocks."""
        session = self._session
        if session is None or session.lost or session.exhausted:
            hello = self._hello
            if hello is not None and not hello.event.is_set() and hello.session is None:
                self._reader.write(hello.wire)  # still unanswered: the same bytes again
            else:
                self._start_hello()
            return
        counter = session.next_counter()
        seq = next(self._seq) & 0xFFFF
        raw = frame_bytes(
            m.MsgType.HEARTBEAT, seq, m.pack_body(m.MsgType.HEARTBEAT, counter=counter), session.key, True
        )
        session.sent(ref_of(raw[HEADER_LEN:-CRC_LEN]))
        self._reader.write(encode_wire(raw))
