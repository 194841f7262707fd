"""Message types, codes and per-type payload layouts (mirrors ``firmware/include/gate.h``).

Protocol version 2 (PROTOCOL.md): every frame but HELLO, CHALLENGE and REFUSE is a session
frame, ``body ‖ counter u32 ‖ tag[16]`` under the session key.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .framing import COUNTER_LEN, NONCE_LEN, REF_LEN, TAG_LEN


class MsgType(enum.IntEnum):
    """Host → controller below 0x80, controller → host from 0x80."""

    HEARTBEAT = 0x01
    STATUS_REQ = 0x02
    HELLO = 0x03
    OPEN = 0x10
    DENY = 0x11
    ALARM = 0x12
    ACK = 0x80
    NAK = 0x81
    STATUS = 0x82
    EVENT = 0x83
    CHALLENGE = 0x84
    REFUSE = 0x85


class NakCode(enum.IntEnum):
    """Error codes of NAK (inside a session) and REFUSE (outside one)."""

    VERSION = 1
    TYPE = 2
    LENGTH = 3
    NO_SESSION = 4
    REPLAY = 5
    VALUE = 6
    ENTROPY = 7


def nak_name(code: int) -> str:
    """``NakCode`` name in lower case ("replay"), or "code N" for an unknown code."""
    try:
        return NakCode(code).name.lower()
    except ValueError:
        return f"code {code}"


class EventKind(enum.IntEnum):
    DOOR_FORCED = 1
    DOOR_HELD_OPEN = 2
    TAMPER = 3
    POWER = 4


class Fault(enum.IntFlag):
    DOOR_FORCED = 1 << 0
    DOOR_HELD_OPEN = 1 << 1
    TAMPER = 1 << 2
    POWER = 1 << 3
    HEARTBEAT_LOST = 1 << 4
    SENSOR = 1 << 5
    STATE = 1 << 6  # the stored boot count was missing, unreadable or unwritable at reset
    ENTROPY = 1 << 7  # the controller's random source failed


# Body formats (little-endian), without the counter and tag.
_BODY: dict[int, str] = {
    MsgType.HEARTBEAT: "",
    MsgType.STATUS_REQ: "",
    MsgType.HELLO: f"<{NONCE_LEN}s",  # host nonce
    MsgType.OPEN: "<HB",  # duration_ms, reason
    MsgType.DENY: "<B",  # reason
    MsgType.ALARM: "<B",  # kind
    MsgType.ACK: "<I",  # counter of the acknowledged frame
    MsgType.NAK: "<BI",  # error code, counter of the refused frame
    MsgType.STATUS: "<BBHHII",  # relay, door, faults, fw_version, uptime_ms, boot_count
    MsgType.EVENT: "<BI",  # kind, uptime_ms
    MsgType.CHALLENGE: f"<{NONCE_LEN}s",  # controller nonce
    MsgType.REFUSE: f"<B{REF_LEN}s",  # error code, ref (tag prefix of the refused frame)
}
_NOT_SESSION = frozenset({MsgType.HELLO, MsgType.CHALLENGE, MsgType.REFUSE})
COMMANDS = frozenset({MsgType.OPEN, MsgType.DENY, MsgType.ALARM})


def has_counter(msg_type: int) -> bool:
    """Session frames (everything but HELLO, CHALLENGE and REFUSE) carry a counter and a tag."""
    return msg_type in _BODY and msg_type not in _NOT_SESSION


def has_tag(msg_type: int) -> bool:
    """Every known type but HELLO is tagged."""
    return msg_type in _BODY and msg_type != MsgType.HELLO


def payload_len(msg_type: int) -> int | None:
    """Payload length on the wire (body + counter + tag), or None for an unknown type."""
    fmt = _BODY.get(msg_type)
    if fmt is None:
        return None
    n = struct.calcsize(fmt) if fmt else 0
    if has_counter(msg_type):
        n += COUNTER_LEN
    if has_tag(msg_type):
        n += TAG_LEN
    return n


def pack_body(msg_type: int, *fields, counter: int | None = None) -> bytes:
    """Body bytes of a message, counter included for session frames (the tag is added later)."""
    fmt = _BODY[msg_type]
    body = struct.pack(fmt, *fields) if fmt else b""
    if has_counter(msg_type):
        if counter is None:
            raise ValueError(f"{MsgType(msg_type).name} needs a counter")
        body += struct.pack("<I", counter)
    return body


def unpack_body(msg_type: int, body: bytes) -> tuple:
    """Fields of a body (the counter last for session frames)."""
    fmt = _BODY[msg_type]
    fields = struct.unpack_from(fmt, body) if fmt else ()
    if has_counter(msg_type):
        fields += struct.unpack_from("<I", body, len(body) - COUNTER_LEN)
    return fields


@dataclass(frozen=True)
class GateStatus:
    """Controller state from a STATUS reply. ``faults`` were latched since the last STATUS.

    ``boot_count`` counts the controller's resets in its NV storage (0 when it has none);
    it is informational: replay protection does not depend on it.
    """

    relay_open: bool
    door_open: bool
    faults: Fault
    firmware_version: str
    uptime_ms: int
    boot_count: int

    @classmethod
    def from_body(cls, body: bytes) -> GateStatus:
        """Parse a STATUS body (counter included)."""
        relay, door, faults, fw, uptime, boots, _ = unpack_body(MsgType.STATUS, body)
        return cls(bool(relay), bool(door), Fault(faults), f"{fw >> 8}.{fw & 0xFF}", uptime, boots)


@dataclass(frozen=True)
class Ack:
    """A confirmed command: seq, per-session counter, attempts used, round trip, session id."""

    seq: int
    counter: int
    attempts: int
    rtt_s: float
    session_id: int = 0


@dataclass(frozen=True)
class GateEvent:
    """An unsolicited EVENT from the controller."""

    kind: EventKind
    uptime_ms: int
    seq: int
