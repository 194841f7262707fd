"""The reader-thread side of :class:`~biogate.firmware_bridge.client.GateClient`: frames from the controller.

:class:`Inbound` is what :class:`~biogate.firmware_bridge.link.GateProtocol` hands each COBS block
to: parse and check it (CRC, version, tag, replay counter), then a CHALLENGE completes the
handshake, a REFUSE answers a HELLO or marks the session lost, an answer wakes the frame waiting
for it, and an EVENT goes to ``on_event``. A link loss wakes every waiting frame.
"""

from __future__ import annotations

import logging
import time

from . import messages as m
from .errors import GateLinkLost
from .framing import FrameError, RawFrame, parse_frame, verify_tag
from .session import Session

log = logging.getLogger(__name__)


class Inbound:
    """Frames from the controller, handled in the reader thread (a part of :class:`GateClient`)."""

    def _note_rejected(self, code: str) -> None:
        self.stats[f"rx_{code}"] += 1

    def _alive(self) -> None:
        """A frame that only the controller could have sent arrived."""
        self._last_rx = time.monotonic()
        if self._error is not None and not self._fatal:
            log.info("gate link on %s is back", self.port_url)
            self._error = None

    def _on_block(self, block: bytes) -> None:
        try:
            frame = parse_frame(block, m.payload_len, m.has_tag)
        except FrameError as exc:
            self._note_rejected(exc.code)
            if exc.code == "version" and exc.detail.isdigit():
                self._peer_version = int(exc.detail)  # named if the handshake then times out
            return
        if frame.type < 0x80:
            self._note_rejected("host_type")  # our own frames echoed back (loop://)
        elif frame.type == m.MsgType.CHALLENGE:
            self._on_challenge(frame)
        elif frame.type == m.MsgType.REFUSE:
            self._on_refuse(frame)
        else:
            self._on_session_frame(frame)

    def _on_challenge(self, frame: RawFrame) -> None:
        hello = self._hello
        if hello is None or frame.seq != hello.seq or hello.event.is_set():
            self.stats["rx_unmatched"] += 1  # a duplicate, or the answer to an abandoned HELLO
            return
        session = Session(self._key, hello.nonce, frame.payload)
        if not verify_tag(session.key, frame):
            self._note_rejected("challenge_tag")
            hello.mismatch = True
            # Reported (once, naming the key) by the handshake that waits for this CHALLENGE.
            log.debug("gate CHALLENGE seq %d does not verify under %s", frame.seq, self._key_source)
        else:
            self._alive()
            self._session = session
            hello.session = session
            self.stats["sessions"] += 1
            log.debug("gate session 0x%08x opened on %s", session.id, self.port_url)
        hello.event.set()

    def _on_refuse(self, frame: RawFrame) -> None:
        if not verify_tag(self._key, frame):
            self._note_rejected("tag")
            return
        self._alive()
        code, ref = m.unpack_body(m.MsgType.REFUSE, frame.payload)
        hello = self._hello
        if (
            hello is not None
            and frame.seq == hello.seq
            and ref == hello.nonce[: len(ref)]
            and not hello.event.is_set()
        ):
            hello.refused = code
            hello.event.set()
            return
        session = self._session
        if session is None or not session.knows(ref):
            self.stats["rx_stale_refuse"] += 1  # about a frame of an older session (or a replay)
            return
        if code == m.NakCode.NO_SESSION and not session.lost:
            session.lost = True  # the heartbeat thread (or the next command) opens a new one
            self.stats["sessions_lost"] += 1
            log.info("gate controller on %s no longer knows session 0x%08x", self.port_url, session.id)
        self._deliver(frame, session, ref)

    def _on_session_frame(self, frame: RawFrame) -> None:
        session = self._session
        if session is None or not verify_tag(session.key, frame):
            self._note_rejected("tag")  # forged, damaged past the CRC, or from an older session
            if session is not None:
                log.debug(
                    "gate frame that does not verify ignored (type 0x%02x seq %d)", frame.type, frame.seq
                )
            return
        *_, counter = m.unpack_body(frame.type, frame.payload)
        if not session.accept_rx(counter):
            self._note_rejected("replay")  # a duplicate or a replayed controller frame
            return
        self._alive()
        if frame.type == m.MsgType.EVENT:
            self._dispatch_event(frame)
        else:
            self._deliver(frame, session, None)

    def _deliver(self, frame: RawFrame, session: Session, ref: bytes | None) -> None:
        with self._lock:
            pending = self._pending.get(frame.seq)
        if (
            pending is None
            or pending.event.is_set()
            or pending.session is not session
            or (ref is not None and ref != pending.ref)
        ):
            self.stats["rx_unmatched"] += 1  # a heartbeat's answer, or an answer already taken
            return
        pending.frame = frame
        pending.event.set()

    def _dispatch_event(self, frame: RawFrame) -> None:
        kind, uptime, _ = m.unpack_body(m.MsgType.EVENT, frame.payload)
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
        if self._hello is not None:
            self._hello.event.set()
        if first and self.on_link_lost is not None:
            try:
                self.on_link_lost(error)
            except Exception:
                log.exception("gate on_link_lost callback failed")
