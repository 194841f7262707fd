"""Host side of the gate link: :class:`GateClient` over any pyserial URL.

Protocol version 2 (PROTOCOL.md): the client opens a session with a HELLO, checks the
controller's CHALLENGE (a wrong key shows here, and is reported as one), and tags every
later frame with the session key and a per-session counter. Frames that expect an answer
are stop-and-wait with retries that resend the *same* bytes, so the controller runs a
command at most once. A heartbeat thread probes the link (turning silence into
:class:`~biogate.firmware_bridge.errors.GateLinkLost`, because pyserial's ``read()`` never
raises on a timeout) and re-opens the session when the controller no longer knows it.

This module holds the public API, the handshake and the stop-and-wait exchanges; the reader
thread's side is :mod:`.inbound` and the heartbeat thread's :mod:`.heartbeat`.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import threading
import time
from typing import Callable

import serial

from biogate.errors import GateProtocolError

from . import messages as m
from .errors import GateKeyMismatch, GateLinkLost, GateNak, GateSessionLost, GateTimeout
from .framing import (
    CRC_LEN,
    HEADER_LEN,
    PROTOCOL_VERSION,
    RawFrame,
    encode_wire,
    frame_bytes,
)
from .heartbeat import Heartbeat
from .inbound import Inbound
from .keys import check_key, key_source
from .link import GateProtocol, ReaderThread
from .messages import Ack
from .session import Hello, Pending, Session, new_host_nonce, ref_of

log = logging.getLogger(__name__)

EventCallback = Callable[[m.GateEvent], None]


class GateClient(Inbound, Heartbeat):
    """Authenticated link to one gate controller.

    Args:
        port_url: anything ``serial.serial_for_url`` accepts: ``/dev/ttyUSB0``, a pty path
            (``biogate gate-sim`` prints one), ``loop://``, ``rfc2217://host:port``.
        key: the controller's 32-byte key (see docs/firmware.md, "Key provisioning"); a key
            from :func:`~biogate.firmware_bridge.load_key` lets errors name its file.
        heartbeat_s: link supervision period. A HEARTBEAT is sent every ``heartbeat_s/4``;
            the link is declared lost after ``1.5 * heartbeat_s`` without a valid frame, so a
            dead link is reported within 2 periods while 4 lost probes in a row are tolerated.
            Keep it well below the controller's heartbeat timeout (default 1 s).
        response_timeout_s: wait per attempt for the answer before resending the same frame.
        retries: resends after the first attempt.
        on_event: called in the reader thread with each :class:`GateEvent` (once per event).
        on_link_lost: called once with the :class:`GateLinkLost` when the link goes down.
        connect: open the session and read STATUS (``connect_status``) now; with False the
            first command opens it.

    Raises (from the constructor with ``connect``): :class:`GateKeyMismatch` when the
    controller holds another key, :class:`GateTimeout` when nothing answers the HELLO,
    :class:`GateLinkLost` when the port cannot be opened.
    """

    def __init__(
        self,
        port_url: str,
        key: bytes,
        *,
        baudrate: int = 115200,
        heartbeat_s: float = 0.25,
        response_timeout_s: float = 0.05,
        retries: int = 5,
        on_event: EventCallback | None = None,
        on_link_lost: Callable[[GateLinkLost], None] | None = None,
        connect: bool = True,
    ) -> None:
        self._key = check_key(key)
        self._key_source = key_source(key)
        self.port_url = port_url
        self.heartbeat_s = float(heartbeat_s)
        self.response_timeout_s = float(response_timeout_s)
        self.retries = int(retries)
        if not (self.heartbeat_s > 0 and self.response_timeout_s > 0 and self.retries >= 0):
            raise GateProtocolError(
                f"gate client timings must be positive (heartbeat_s {heartbeat_s}, "
                f"response_timeout_s {response_timeout_s}, retries {retries})"
            )
        self.on_event = on_event
        self.on_link_lost = on_link_lost
        self.stats: dict[str, int] = collections.Counter()
        self._seq = itertools.count(1)
        self._session: Session | None = None
        self._hello: Hello | None = None
        self._peer_version: int | None = None
        self._pending: dict[int, Pending] = {}
        self._lock = threading.Lock()
        self._cmd_lock = threading.Lock()  # one answered frame in flight keeps counters in order
        self._error: GateLinkLost | None = None
        self._fatal = False
        self._closed = False
        self._stop = threading.Event()
        try:
            self._serial = serial.serial_for_url(port_url, baudrate=baudrate, timeout=None)
        except (serial.SerialException, ValueError) as exc:
            raise GateLinkLost(f"cannot open gate port {port_url}: {exc}") from None
        self._last_rx = time.monotonic()
        self._reader = ReaderThread(self._serial, lambda: GateProtocol(self))
        self._reader.daemon = True
        self._reader.start()
        self._reader.connect()
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, name="gate-heartbeat", daemon=True)
        self._heartbeat.start()
        #: STATUS read at connect (holds the fault flags latched before this session, e.g. POWER).
        self.connect_status: m.GateStatus | None = None
        if connect:
            try:
                self.connect_status = self.status()
            except GateProtocolError:
                self.close()
                raise

    # -- public API ---------------------------------------------------------------------

    def open(self, duration_ms: int, reason: int = 0) -> Ack:
        """Open the relay for ``duration_ms`` (1..65535, at most the controller's maximum)."""
        if not 0 < int(duration_ms) <= 0xFFFF:
            raise GateProtocolError(f"open duration_ms must be 1..65535, got {duration_ms}")
        return self._command(m.MsgType.OPEN, int(duration_ms), int(reason) & 0xFF)

    def deny(self, reason: int = 0) -> Ack:
        """Signal a refusal; the controller also closes the relay if it was open."""
        return self._command(m.MsgType.DENY, int(reason) & 0xFF)

    def alarm(self, kind: int = 1) -> Ack:
        """Raise an alarm output; the relay is closed."""
        return self._command(m.MsgType.ALARM, int(kind) & 0xFF)

    def status(self) -> m.GateStatus:
        """Ask the controller for its state (clears its latched fault flags).

        Reading is idempotent, so a STATUS? refused because the session was lost is asked
        again, once, in a new session.
        """
        with self._cmd_lock:
            for again in (True, False):
                session = self._ensure_session()
                frame, _, _, _ = self._exchange(m.MsgType.STATUS_REQ, session)
                if frame.type == m.MsgType.STATUS:
                    return m.GateStatus.from_body(frame.payload)
                code = frame.payload[0]
                if not (again and frame.type == m.MsgType.REFUSE and code == m.NakCode.NO_SESSION):
                    raise GateNak(f"controller refused STATUS ({m.nak_name(code)})", code, frame.seq)
        raise GateNak("controller refused STATUS (no_session twice)", m.NakCode.NO_SESSION, 0)

    def send_raw(self, wire: bytes) -> None:
        """Write bytes as they are (tests and fault-injection tools)."""
        self._check_link()
        self._reader.write(wire)

    @property
    def link_ok(self) -> bool:
        return self._error is None and not self._closed

    @property
    def session_id(self) -> int | None:
        """Id of the current session (controller nonce bytes 0..3), None before the handshake."""
        session = self._session
        return None if session is None or session.lost else session.id

    def close(self) -> None:
        """Stop the heartbeat, stop the reader and close the port (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._heartbeat is not threading.current_thread():
            self._heartbeat.join(timeout=2)
        with contextlib.suppress(serial.SerialException, OSError):
            self._reader.close()
        self._session = None

    def __enter__(self) -> GateClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:  # the keys stay out of logs and tracebacks
        return f"GateClient({self.port_url!r}, link_ok={self.link_ok}, session={self.session_id})"

    # -- session ------------------------------------------------------------------------

    def _ensure_session(self) -> Session:
        """The current session, after a handshake if there is none (command lock held)."""
        session = self._session
        if session is not None and not session.lost and not session.exhausted:
            return session
        return self._handshake()

    def _start_hello(self) -> Hello:
        nonce = new_host_nonce()
        seq = next(self._seq) & 0xFFFF
        hello = Hello(seq, nonce, encode_wire(frame_bytes(m.MsgType.HELLO, seq, nonce, None, False)))
        self._hello = hello
        self.stats["hellos"] += 1
        self._reader.write(hello.wire)
        return hello

    def _handshake(self) -> Session:
        """HELLO until a CHALLENGE verifies; resend the same bytes on silence (command lock held)."""
        self._check_link()
        hello = self._start_hello()
        attempts = mismatches = 0
        while True:
            attempts += 1
            if not hello.event.wait(self.response_timeout_s):
                self._check_link()
                if attempts > self.retries:
                    break
                self._reader.write(hello.wire)  # the same bytes: the controller answers the same
                self.stats["retransmits"] += 1
                continue
            self._check_link()
            if hello.session is not None:
                return hello.session
            if hello.refused is not None:
                if hello.refused == m.NakCode.ENTROPY:
                    raise GateProtocolError(
                        f"the gate controller on {self.port_url} cannot draw a random challenge (its "
                        "entropy source failed): it opens no session, so it cannot open the door"
                    )
                raise GateNak(
                    f"controller refused HELLO ({m.nak_name(hello.refused)})", hello.refused, hello.seq
                )
            if not hello.mismatch:  # woken by a link loss that has already passed
                raise GateLinkLost(f"gate link on {self.port_url} lost during the handshake")
            mismatches += 1  # a CHALLENGE that does not verify; twice in a row is not line noise
            if mismatches >= 2:
                raise GateKeyMismatch(
                    f"{self._key_source} does not match the gate controller on {self.port_url}: its "
                    "handshake reply does not verify under this key (wrong key for this controller, "
                    "or a forged reply)"
                )
            hello = self._start_hello()  # a fresh nonce
            attempts = 0
        hint = ""
        if self._peer_version is not None:
            hint = f" (it speaks protocol version {self._peer_version}, this host speaks {PROTOCOL_VERSION})"
        raise GateTimeout(
            f"HELLO seq {hello.seq} unanswered after {attempts} attempts: no gate controller "
            f"answers on {self.port_url}{hint}",
            hello.seq,
            0,
        )

    # -- exchanges ------------------------------------------------------------------------

    def _command(self, msg_type: int, *fields: int) -> Ack:
        name = m.MsgType(msg_type).name
        with self._cmd_lock:
            session = self._ensure_session()
            frame, attempts, rtt, counter = self._exchange(msg_type, session, *fields)
        if frame.type == m.MsgType.ACK:
            return Ack(seq=frame.seq, counter=counter, attempts=attempts, rtt_s=rtt, session_id=session.id)
        code = frame.payload[0]
        if frame.type == m.MsgType.REFUSE and code == m.NakCode.NO_SESSION:
            self.stats["session_lost"] += 1
            raise GateSessionLost(
                f"{name} seq {frame.seq}: the gate controller on {self.port_url} no longer knows the "
                f"session it was sent in (it reset, or another host opened a session); outcome unknown "
                f"after {attempts} attempt(s), not re-sent",
                frame.seq,
                counter,
                session.id,
            )
        raise GateNak(f"controller refused {name} ({m.nak_name(code)})", code, frame.seq)

    def _exchange(self, msg_type: int, session: Session, *fields: int) -> tuple[RawFrame, int, float, int]:
        """Send one session frame until an answer with its seq arrives; resend the same bytes."""
        self._check_link()
        counter = session.next_counter()
        seq = next(self._seq) & 0xFFFF
        raw = frame_bytes(msg_type, seq, m.pack_body(msg_type, *fields, counter=counter), session.key, True)
        pending = Pending(ref_of(raw[HEADER_LEN:-CRC_LEN]), session)
        session.sent(pending.ref)
        wire = encode_wire(raw)
        with self._lock:
            self._pending[seq] = pending
        t0 = time.perf_counter()
        try:
            for attempt in range(1, self.retries + 2):
                self._reader.write(wire)
                if attempt > 1:
                    self.stats["retransmits"] += 1
                if pending.event.wait(self.response_timeout_s):
                    self._check_link()
                    frame = pending.frame
                    if frame is None:  # woken by link loss
                        raise GateLinkLost(f"gate link on {self.port_url} lost")
                    if (
                        frame.type in (m.MsgType.ACK, m.MsgType.NAK)
                        and m.unpack_body(frame.type, frame.payload)[-2] != counter
                    ):
                        raise GateProtocolError(
                            f"{m.MsgType(frame.type).name} for seq {seq} names another counter"
                        )
                    return frame, attempt, time.perf_counter() - t0, counter
                self._check_link()
        finally:
            with self._lock:
                self._pending.pop(seq, None)
        name = m.MsgType(msg_type).name
        raise GateTimeout(
            f"{name} seq {seq} unanswered after {self.retries + 1} attempts on {self.port_url}",
            seq,
            counter,
            session.id,
        )

    def _check_link(self) -> None:
        if self._closed:
            raise GateLinkLost(f"gate client for {self.port_url} is closed")
        if self._error is not None:
            raise self._error
