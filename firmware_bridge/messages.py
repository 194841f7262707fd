"""Message types, codes and per-type payload layouts (mirrors ``firmware/include/gate.h``)."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .framing import COUNTER_LEN, TAG_LEN


class MsgType(enum.IntEnum):
    """Host → controller below 0x80, controller → host from 0x80."""

    HEARTBEAT = 0x01
    STATUS_REQ = 0x02
    OPEN = 0x10
    DENY = 0x11
    ALARM = 0x12
    ACK = 0x80
    NAK = 0x81
    STATUS = 0x82
    EVENT = 0x83


class NakCode(enum.IntEnum):
    VERSION = 1
    TYPE = 2
    LENGTH = 3
    TAG = 4
    REPLAY = 5
    VALUE = 6


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


# Body formats (little-endian), without the counter and tag.
_BODY: dict[int, str] = {
    MsgType.HEARTBEAT: "",
    MsgType.STATUS_REQ: "",
    MsgType.OPEN: "<HB",  # duration_ms, reason
    MsgType.DENY: "<B",  # reason
    MsgType.ALARM: "<B",  # kind
    MsgType.ACK: "<I",  # counter of the acknowledged command (0 if untagged)
    MsgType.NAK: "<BI",  # error code, last accepted counter
    MsgType.STATUS: "<BBHHII",  # relay, door, faults, fw_version, uptime_ms, last_counter
    MsgType.EVENT: "<BI",  # kind, uptime_ms
}
AUTHENTICATED = frozenset({MsgType.OPEN, MsgType.DENY, MsgType.ALARM})


def has_counter(msg_type: int) -> bool:
    """Host commands that change the relay carry a counter and a tag."""
    return msg_type in AUTHENTICATED


def has_tag(msg_type: int) -> bool:
    """Authenticated host commands and every controller frame carry a tag."""
    return msg_type in AUTHENTICATED or msg_type >= 0x80


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


def pack_body(msg_type: int, *fields: int, counter: int | None = None) -> bytes:
    """Body bytes of a message (the tag is added by the framing layer)."""
    fmt = _BODY[msg_type]
    body = struct.pack(fmt, *fields) if fmt else b""
    if has_counter(msg_type):
        if counter is None:
            raise ValueError(f"{MsgType(msg_type).name} needs a counter")
        body += struct.pack("<I", counter)
    return body


def unpack_body(msg_type: int, body: bytes) -> tuple:
    """Fields of a body (counter last for authenticated host commands)."""
    fmt = _BODY[msg_type]
    fields = struct.unpack_from(fmt, body) if fmt else ()
    if has_counter(msg_type):
        fields += struct.unpack_from("<I", body, len(body) - COUNTER_LEN)
    return fields


@dataclass(frozen=True)
class GateStatus:
    """Controller state from a STATUS reply. ``faults`` were latched since the last STATUS."""

    relay_open: bool
    door_open: bool
    faults: Fault
    firmware_version: str
    uptime_ms: int
    last_counter: int


@dataclass(frozen=True)
class GateEvent:
    """An unsolicited EVENT from the controller."""

    kind: EventKind
    uptime_ms: int
    seq: int
