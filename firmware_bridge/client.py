"""Host side of the gate link: :class:`GateClient` over any pyserial URL.

Built on ``serial.threaded``: :class:`GateProtocol` splits the byte stream on the COBS
delimiter (0x00) inside the reader thread; commands are stop-and-wait with retries that
resend the *same* bytes (same sequence number, counter and tag), so the controller runs a
command at most once. A heartbeat thread probes the link and turns silence into
:class:`~biogate.firmware_bridge.errors.GateLinkLost`, because pyserial's ``read()`` never
raises on a timeout.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import serial
import serial.threaded

from biogate.errors import GateProtocolError

from . import messages as m
from .errors import GateLinkLost, GateNak, GateTimeout
from .framing import MAX_WIRE_LEN, FrameError, RawFrame, build_frame, parse_frame, verify_tag
from .keys import check_key

log = logging.getLogger(__name__)

EventCallback = Callable[[m.GateEvent], None]


@dataclass(frozen=True)
class Ack:
    """A confirmed command: its sequence number, counter, attempts used and round-trip time."""

    seq: int
    counter: int
    attempts: int
    rtt_s: float


class GateProtocol(serial.threaded.Protocol):
    """COBS packetizer on 0x00 with a bounded buffer; hands each block to the client."""

    TERMINATOR = b"\x00"

    def __init__(self, client: GateClient) -> None:
        self.client = client
        self.buffer = bytearray()
        self.discarding = False
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer.extend(data)
        while True:
            end = self.buffer.find(self.TERMINATOR)
            if end < 0:
                break
            block = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            if self.discarding:
                self.discarding = False
                self.client._note_rejected("oversize")
            elif block:
                self.client._on_block(block)
        if len(self.buffer) > MAX_WIRE_LEN:
            # Garbage without delimiters: drop it and everything up to the next 0x00.
            self.buffer.clear()
            self.discarding = True

    def connection_lost(self, exc: BaseException | None) -> None:
        self.transport = None
        self.client._on_connection_lost(exc)


class _ReaderThread(serial.threaded.ReaderThread):
    """``serial.threaded.ReaderThread`` whose loop also treats ``OSError`` as a lost port.

    pyserial's ``in_waiting`` raises a bare ``OSError`` (EIO) once the other end of a pty or
    a USB adapter is gone; the stock loop only catches ``SerialException`` and would die
    without calling ``connection_lost``.
    """

    def run(self) -> None:
        if not hasattr(self.serial, "cancel_read"):
            self.serial.timeout = 1
        self.protocol = self.protocol_factory()
        self.protocol.connection_made(self)
        self._connection_made.set()
        error: BaseException | None = None
        while self.alive and self.serial.is_open:
            try:
                data = self.serial.read(self.serial.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError) as exc:  # TypeError: fd closed meanwhile
                error = exc
                break
            if data:
                try:
                    self.protocol.data_received(data)
                except Exception as exc:  # a bug in the protocol, kept apart from I/O errors
                    log.exception("gate protocol failed on received data")
                    error = exc
                    break
        self.alive = False
        self.protocol.connection_lost(error)
        self.protocol = None


class _Pending:
    __slots__ = ("event", "frame")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.frame: RawFrame | None = None


class GateClient:
    """Authenticated link to one gate controller.

    Args:
        port_url: anything ``serial.serial_for_url`` accepts: ``/dev/ttyUSB0``, a pty path
            (``biogate gate-sim`` prints one), ``loop://``, ``rfc2217://host:port``.
        key: the controller's 32-byte key (see docs/firmware.md, "Key provisioning").
        heartbeat_s: link supervision period. A HEARTBEAT is sent every ``heartbeat_s/4``;
            the link is declared lost after ``1.5 * heartbeat_s`` without a valid frame, so a
            dead link is reported within 2 periods while 4 lost probes in a row are tolerated.
            Keep it well below the controller's heartbeat timeout (default 1 s).
        response_timeout_s: wait per attempt for ACK/NAK before resending the same frame.
        retries: resends after the first attempt.
        on_event: called in the reader thread with each :class:`GateEvent` (once per event).
        on_link_lost: called once with the :class:`GateLinkLost` when the link goes down.
        sync_counter: read the controller's last accepted counter at connect (STATUS) and
            continue above it; with False, commands start at ``counter_start``.
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
        sync_counter: bool = True,
        counter_start: int = 1,
    ) -> None:
        self._key = check_key(key)
        self.port_url = port_url
        self.heartbeat_s = float(heartbeat_s)
        self.response_timeout_s = float(response_timeout_s)
        self.retries = int(retries)
        self.on_event = on_event
        self.on_link_lost = on_link_lost
        self.stats: dict[str, int] = collections.Counter()
        self._seq = itertools.count(1)
        self._counter = max(0, counter_start - 1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._cmd_lock = threading.Lock()
        self._recent_events: collections.deque[int] = collections.deque(maxlen=32)
        self._error: GateLinkLost | None = None
        self._fatal = False
        self._closed = False
        self._stop = threading.Event()
        try:
            self._serial = serial.serial_for_url(port_url, baudrate=baudrate, timeout=None)
        except (serial.SerialException, ValueError) as exc:
            raise GateLinkLost(f"cannot open gate port {port_url}: {exc}") from None
        self._last_rx = time.monotonic()
        self._reader = _ReaderThread(self._serial, lambda: GateProtocol(self))
        self._reader.daemon = True
        self._reader.start()
        self._reader.connect()
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, name="gate-heartbeat", daemon=True)
        self._heartbeat.start()
        #: STATUS read at connect (holds the fault flags latched before this session, e.g. POWER).
        self.connect_status: m.GateStatus | None = None
        if sync_counter:
            try:
                self.connect_status = self.status()
                self._counter = max(self._counter, self.connect_status.last_counter)
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
        """Ask the controller for its state (clears its latched fault flags)."""
        frame, _, _ = self._exchange(m.MsgType.STATUS_REQ, b"", tagged=False, counter=0)
        if frame.type == m.MsgType.NAK:
            code, _ = m.unpack_body(frame.type, frame.payload)
            raise GateNak(f"controller refused STATUS ({_nak_name(code)})", code, frame.seq)
        relay, door, faults, fw, uptime, last_counter = m.unpack_body(m.MsgType.STATUS, frame.payload)
        return m.GateStatus(
            relay_open=bool(relay),
            door_open=bool(door),
            faults=m.Fault(faults),
            firmware_version=f"{fw >> 8}.{fw & 0xFF}",
            uptime_ms=uptime,
            last_counter=last_counter,
        )

    def send_raw(self, wire: bytes) -> None:
        """Write bytes as they are (tests and fault-injection tools)."""
        self._check_link()
        self._reader.write(wire)

    @property
    def link_ok(self) -> bool:
        return self._error is None and not self._closed

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

    def __enter__(self) -> GateClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"GateClient({self.port_url!r}, link_ok={self.link_ok})"

    # -- commands -----------------------------------------------------------------------

    def _command(self, msg_type: int, *fields: int) -> Ack:
        name = m.MsgType(msg_type).name
        with self._cmd_lock:  # one authenticated command in flight keeps counters in order
            for resync in (False, True):
                self._counter += 1
                counter = self._counter
                body = m.pack_body(msg_type, *fields, counter=counter)
                frame, attempts, rtt = self._exchange(msg_type, body, tagged=True, counter=counter)
                if frame.type == m.MsgType.ACK:
                    return Ack(seq=frame.seq, counter=counter, attempts=attempts, rtt_s=rtt)
                code, last = m.unpack_body(m.MsgType.NAK, frame.payload)
                if code == m.NakCode.REPLAY and not resync and last >= counter:
                    # Another host (or a previous run) used higher counters: continue above them once.
                    self._counter = last
                    self.stats["resync"] += 1
                    continue
                raise GateNak(f"controller refused {name} ({_nak_name(code)})", code, frame.seq)
        raise GateNak(f"controller refused {name} (replay after resync)", m.NakCode.REPLAY, 0)

    def _exchange(self, msg_type: int, body: bytes, tagged: bool, counter: int):
        """Send one frame until an answer with its seq arrives; resend the same bytes on timeout."""
        self._check_link()
        seq = next(self._seq) & 0xFFFF
        wire = build_frame(msg_type, seq, body, self._key, tagged)
        pending = _Pending()
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
                        self._check_link()
                        raise GateLinkLost(f"gate link on {self.port_url} lost")
                    if (
                        frame.type == m.MsgType.ACK
                        and m.unpack_body(m.MsgType.ACK, frame.payload)[0] != counter
                    ):
                        raise GateProtocolError(f"ACK for seq {seq} names another counter")
                    return frame, attempt, time.perf_counter() - t0
                self._check_link()
        finally:
            with self._lock:
                self._pending.pop(seq, None)
        name = m.MsgType(msg_type).name
        raise GateTimeout(
            f"{name} seq {seq} unanswered after {self.retries + 1} attempts on {self.port_url}", seq, counter
        )

    def _check_link(self) -> None:
        if self._closed:
            raise GateLinkLost(f"gate client for {self.port_url} is closed")
        if self._error is not None:
            raise self._error

    # -- reader thread side -------------------------------------------------------------

    def _note_rejected(self, code: str) -> None:
        self.stats[f"rx_{code}"] += 1

    def _on_block(self, block: bytes) -> None:
        try:
            frame = parse_frame(block, m.payload_len, m.has_tag)
        except FrameError as exc:
            self._note_rejected(exc.code)
            return
        if frame.type < 0x80:
            self._note_rejected("host_type")  # our own frames echoed back (loop://)
            return
        if not verify_tag(self._key, frame):
            self._note_rejected("tag")
            log.warning("gate frame with a bad tag ignored (type 0x%02x seq %d)", frame.type, frame.seq)
            return
        self._last_rx = time.monotonic()
        if self._error is not None and not self._fatal:
            log.info("gate link on %s is back", self.port_url)
            self._error = None
        if frame.type == m.MsgType.EVENT:
            self._dispatch_event(frame)
            return
        with self._lock:
            pending = self._pending.get(frame.seq)
        if pending is None or pending.event.is_set():
            self.stats["rx_unmatched"] += 1  # a duplicate or a heartbeat ACK
            return
        pending.frame = frame
        pending.event.set()

    def _dispatch_event(self, frame: RawFrame) -> None:
        if frame.seq in self._recent_events:
            self.stats["rx_dup_event"] += 1
            return
        self._recent_events.append(frame.seq)
        kind, uptime = m.unpack_body(m.MsgType.EVENT, frame.payload)
        try:
            event = m.GateEvent(kind=m.EventKind(kind), uptime_ms=uptime, seq=frame.seq)
        except ValueError:
            self._note_rejected("event_kind")
            return
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a callback bug must not take the link down
                log.exception("gate on_event callback failed")

    def _on_connection_lost(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        self._fatal = True
        self._link_down(GateLinkLost(f"gate port {self.port_url} failed: {exc or 'closed'}"))

    def _link_down(self, error: GateLinkLost) -> None:
        first = self._error is None
        self._error = error
        with self._lock:
            waiting = list(self._pending.values())
        for pending in waiting:
            pending.event.set()
        if first and self.on_link_lost is not None:
            try:
                self.on_link_lost(error)
            except Exception:
                log.exception("gate on_link_lost callback failed")

    # -- heartbeat thread ---------------------------------------------------------------

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
            if now >= next_probe:
                next_probe = now + probe_s
                try:
                    self._reader.write(
                        build_frame(m.MsgType.HEARTBEAT, next(self._seq) & 0xFFFF, b"", None, False)
                    )
                except (serial.SerialException, OSError) as exc:
                    self._on_connection_lost(exc)
                    return


def _nak_name(code: int) -> str:
    try:
        return m.NakCode(code).name.lower()
    except ValueError:
        return f"code {code}"
