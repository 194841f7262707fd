"""Byte level of the gate protocol: COBS, CRC-16/CCITT-FALSE, frame layout, HMAC tag.

Mirrors ``firmware/core/gate_cobs.c``, ``gate_crc.c`` and ``gate_frame.c``; the shared
``vectors.json`` keeps the two implementations from drifting apart. Layout (PROTOCOL.md)::

    version u8 | type u8 | seq u16le | len u8 | payload[len] | crc16 u16le      then COBS, then 0x00

For tagged types the payload ends with ``TAG_LEN`` bytes of HMAC-SHA256 over everything
before the tag (header included), under the session key (or the device key for REFUSE);
which key a type uses is :mod:`biogate.firmware_bridge.messages`' and ``session``'s business.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

PROTOCOL_VERSION = 2
KEY_LEN = 32
TAG_LEN = 16
COUNTER_LEN = 4
NONCE_LEN = 16
REF_LEN = 8
HEADER_LEN = 5
CRC_LEN = 2
MAX_PAYLOAD_LEN = 48
MAX_FRAME_LEN = HEADER_LEN + MAX_PAYLOAD_LEN + CRC_LEN
MAX_WIRE_LEN = MAX_FRAME_LEN + MAX_FRAME_LEN // 254 + 1


class FrameError(ValueError):
    """A frame failed a check; ``code`` matches the firmware's ``enum gate_error`` name."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter); a 254-byte non-zero run always opens a new block."""
    out = bytearray(b"\x00")
    code_at = 0
    code = 1
    for byte in data:
        if byte:
            out.append(byte)
            code += 1
        if not byte or code == 0xFF:
            out[code_at] = code
            code = 1
            code_at = len(out)
            out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(block: bytes) -> bytes:
    """Decode one COBS block (without its delimiter); raise FrameError('cobs') if malformed."""
    if not block:
        raise FrameError("cobs", "empty block")
    out = bytearray()
    i = 0
    n = len(block)
    while i < n:
        code = block[i]
        i += 1
        if code == 0 or code - 1 > n - i:
            raise FrameError("cobs", f"bad code byte at offset {i - 1}")
        chunk = block[i : i + code - 1]
        if 0 in chunk:
            raise FrameError("cobs", "zero byte inside a block")
        out += chunk
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); check value of b'123456789' is 0x29B1."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def hmac_tag(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 of ``data`` truncated to ``TAG_LEN`` bytes."""
    return hmac.new(key, data, hashlib.sha256).digest()[:TAG_LEN]


@dataclass(frozen=True)
class RawFrame:
    """A CRC-checked frame. ``signed`` is what the tag covers; ``tag`` is empty for untagged types."""

    version: int
    type: int
    seq: int
    payload: bytes
    signed: bytes
    tag: bytes


def frame_bytes(msg_type: int, seq: int, body: bytes, key: bytes | None, tagged: bool) -> bytes:
    """One frame before COBS: header, body, optional tag, CRC."""
    tag_len = TAG_LEN if tagged else 0
    if len(body) + tag_len > MAX_PAYLOAD_LEN:
        raise FrameError("length", f"payload of {len(body) + tag_len} bytes exceeds {MAX_PAYLOAD_LEN}")
    raw = struct.pack("<BBHB", PROTOCOL_VERSION, msg_type, seq & 0xFFFF, len(body) + tag_len) + body
    if tagged:
        if key is None:
            raise FrameError("tag", "a tagged frame needs the key")
        raw += hmac_tag(key, raw)
    return raw + struct.pack("<H", crc16_ccitt_false(raw))


def encode_wire(raw: bytes) -> bytes:
    """COBS-encode a frame and append the 0x00 delimiter."""
    return cobs_encode(raw) + b"\x00"


def build_frame(msg_type: int, seq: int, body: bytes, key: bytes | None, tagged: bool) -> bytes:
    """Encode one frame for the wire: header, body, optional tag, CRC, COBS, delimiter."""
    return encode_wire(frame_bytes(msg_type, seq, body, key, tagged))


def parse_frame(block: bytes, payload_len_of, has_tag) -> RawFrame:
    """Decode a COBS block and check size, CRC, version, type and length (not the tag).

    ``FrameError('version')`` carries the peer's version number as its detail.

    ``payload_len_of(type) -> int | None`` and ``has_tag(type) -> bool`` come from
    :mod:`biogate.firmware_bridge.messages`, which owns the per-type layouts.
    """
    if len(block) > MAX_WIRE_LEN:
        raise FrameError("oversize", f"{len(block)} encoded bytes")
    raw = cobs_decode(block)
    if len(raw) < HEADER_LEN + CRC_LEN:
        raise FrameError("short", f"{len(raw)} bytes")
    if len(raw) > MAX_FRAME_LEN:
        raise FrameError("oversize", f"{len(raw)} bytes")
    (crc,) = struct.unpack_from("<H", raw, len(raw) - CRC_LEN)
    if crc16_ccitt_false(raw[:-CRC_LEN]) != crc:
        raise FrameError("crc")
    version, msg_type, seq, length = struct.unpack_from("<BBHB", raw)
    if version != PROTOCOL_VERSION:
        raise FrameError("version", str(version))
    want = payload_len_of(msg_type)
    if want is None:
        raise FrameError("type", f"0x{msg_type:02x}")
    payload = raw[HEADER_LEN:-CRC_LEN]
    if length != len(payload) or length != want:
        raise FrameError("length", f"type 0x{msg_type:02x} with {len(payload)} payload bytes")
    body_end = len(payload) - (TAG_LEN if has_tag(msg_type) else 0)
    return RawFrame(
        version=version,
        type=msg_type,
        seq=seq,
        payload=payload[:body_end],
        signed=raw[: HEADER_LEN + body_end],
        tag=payload[body_end:],
    )


def verify_tag(key: bytes, frame: RawFrame) -> bool:
    """Constant-time check of a frame's truncated HMAC tag."""
    return bool(frame.tag) and hmac.compare_digest(hmac_tag(key, frame.signed), frame.tag)
