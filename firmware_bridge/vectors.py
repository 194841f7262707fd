"""Shared test vectors: generated once from this package, checked by the C and Python tests.

``python -m biogate.firmware_bridge.vectors --write`` regenerates ``vectors.json`` (only
needed after a deliberate protocol change; commit the diff). ``--check`` verifies that the
file still matches what this Python implementation produces.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import struct
import sys
from pathlib import Path
from typing import Any

from . import messages as m
from .framing import (
    CRC_LEN,
    HEADER_LEN,
    FrameError,
    build_frame,
    cobs_encode,
    crc16_ccitt_false,
    hmac_tag,
    parse_frame,
    verify_tag,
)

VECTORS_PATH = Path(__file__).resolve().parent / "vectors.json"
TEST_KEY = bytes(range(32))  # a published test key: never provision it on a device
OTHER_KEY = bytes(range(32, 64))

# RFC 4231 section 4 inputs; case 5 is checked on its 128-bit truncation, as the RFC does.
_RFC4231 = [
    ("0b" * 20, b"Hi There".hex(), None),
    (b"Jefe".hex(), b"what do ya want for nothing?".hex(), None),
    ("aa" * 20, "dd" * 50, None),
    ("0102030405060708090a0b0c0d0e0f10111213141516171819", "cd" * 50, None),
    ("0c" * 20, b"Test With Truncation".hex(), 16),
    ("aa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First".hex(), None),
    (
        "aa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data. "
        b"The key needs to be hashed before being used by the HMAC algorithm.".hex(),
        None,
    ),
]


def _frame_vectors() -> list[dict[str, Any]]:
    specs = [
        ("heartbeat", m.MsgType.HEARTBEAT, 1, [], None),
        ("status_req", m.MsgType.STATUS_REQ, 2, [], None),
        ("open", m.MsgType.OPEN, 3, [3000, 1], 1),
        ("deny", m.MsgType.DENY, 4, [2], 2),
        ("alarm", m.MsgType.ALARM, 5, [3], 3),
        ("ack", m.MsgType.ACK, 3, [1], None),
        ("nak_replay", m.MsgType.NAK, 7, [m.NakCode.REPLAY, 3], None),
        ("status", m.MsgType.STATUS, 2, [1, 0, 0x0009, 0x0100, 123456, 3], None),
        ("event_door_forced", m.MsgType.EVENT, 0, [m.EventKind.DOOR_FORCED, 5000], None),
        ("open_max_seq", m.MsgType.OPEN, 0xFFFF, [65535, 255], 0xFFFFFFFF),
    ]
    out = []
    for name, msg_type, seq, fields, counter in specs:
        body = m.pack_body(msg_type, *fields, counter=counter)
        wire = build_frame(msg_type, seq, body, TEST_KEY, m.has_tag(msg_type))
        out.append(
            {
                "name": name,
                "type": int(msg_type),
                "seq": seq,
                "fields": [int(f) for f in fields],
                "counter": counter,
                "wire": wire.hex(),
            }
        )
    return out


def _raw(msg_type: int, seq: int, payload: bytes, version: int = 1, fix_len: bool = True) -> bytes:
    length = len(payload) if fix_len else len(payload) + 1
    raw = struct.pack("<BBHB", version, msg_type, seq, length) + payload
    return raw + struct.pack("<H", crc16_ccitt_false(raw))


def _reject_vectors() -> list[dict[str, Any]]:
    good = build_frame(m.MsgType.OPEN, 9, m.pack_body(m.MsgType.OPEN, 500, 0, counter=9), TEST_KEY, True)
    raw = bytearray(_decode(good))
    bad_crc = bytearray(raw)
    bad_crc[-1] ^= 0x40
    bad_tag = bytearray(raw[:-CRC_LEN])
    bad_tag[-1] ^= 0x01
    bad_tag += struct.pack("<H", crc16_ccitt_false(bytes(bad_tag)))
    other_key = build_frame(
        m.MsgType.OPEN, 9, m.pack_body(m.MsgType.OPEN, 500, 0, counter=9), OTHER_KEY, True
    )
    open_body = bytes(raw[HEADER_LEN:-CRC_LEN])
    cases = [
        ("bad_crc", cobs_encode(bytes(bad_crc))),
        ("bad_tag", cobs_encode(bytes(bad_tag))),
        ("wrong_key", other_key[:-1]),
        ("unknown_type", cobs_encode(_raw(0x55, 10, b""))),
        ("controller_type_to_host_side", cobs_encode(_raw(m.MsgType.HEARTBEAT + 0x70, 11, b""))),
        ("bad_version", cobs_encode(_raw(m.MsgType.OPEN, 12, open_body, version=2))),
        ("open_one_byte_short", cobs_encode(_raw(m.MsgType.OPEN, 13, open_body[:-1]))),
        ("heartbeat_with_payload", cobs_encode(_raw(m.MsgType.HEARTBEAT, 14, b"\x01"))),
        ("header_length_lies", cobs_encode(_raw(m.MsgType.HEARTBEAT, 15, b"", fix_len=False))),
        ("truncated_half", good[: len(good) // 2]),
        ("truncated_to_header", cobs_encode(bytes(raw[:4]))),
        ("oversize", bytes([0xFF]) + bytes(range(1, 255))),
        ("cobs_code_past_end", bytes([0x09, 0x01, 0x02])),
        ("garbage", bytes.fromhex("13 37 c0 ff ee 42 99 01 02 03 04 05 06 07 08 09 0a")),
    ]
    out = []
    for name, wire in cases:
        out.append({"name": name, "wire": bytes(wire).hex(), "error": expected_error(bytes(wire), TEST_KEY)})
    return out


def _decode(wire: bytes) -> bytes:
    from .framing import cobs_decode

    return cobs_decode(wire[:-1] if wire.endswith(b"\x00") else wire)


def expected_error(wire: bytes, key: bytes) -> str:
    """What the firmware must conclude about one block: 'ok' or its gate_error name."""
    block = wire[:-1] if wire.endswith(b"\x00") else wire
    try:
        frame = parse_frame(block, m.payload_len, m.has_tag)
    except FrameError as exc:
        return exc.code
    if m.has_tag(frame.type) and not verify_tag(key, frame):
        return "tag"
    return "ok"


def build_vectors() -> dict[str, Any]:
    """Every vector, computed from this package (and hashlib/hmac for SHA-256 and HMAC)."""
    return {
        "comment": "Generated by python -m biogate.firmware_bridge.vectors --write; see PROTOCOL.md.",
        "key": TEST_KEY.hex(),
        "tag_len": len(hmac_tag(TEST_KEY, b"")),
        "crc16": [
            {"data": b"123456789".hex(), "crc": 0x29B1},
            {"data": "", "crc": crc16_ccitt_false(b"")},
            {"data": "00", "crc": crc16_ccitt_false(b"\x00")},
            {"data": bytes(range(256)).hex(), "crc": crc16_ccitt_false(bytes(range(256)))},
        ],
        "cobs": [
            {"raw": raw.hex(), "encoded": cobs_encode(raw).hex()}
            for raw in (
                b"\x00",
                b"\x00\x00",
                b"\x11\x22\x00\x33",
                b"\x11\x22\x33\x44",
                b"\x11\x00\x00\x00",
                bytes(range(1, 255)),
                bytes(range(0, 255)),
                bytes(range(1, 256)),
                bytes(range(2, 256)) + b"\x00",
            )
        ],
        "sha256": [
            {"msg": msg.hex(), "digest": hashlib.sha256(msg).hexdigest()}
            for msg in (b"", b"abc", b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", b"a" * 1000)
        ],
        "hmac_sha256": [
            {
                "key": key,
                "data": data,
                "truncate": trunc or 32,
                "mac": hmac.new(bytes.fromhex(key), bytes.fromhex(data), hashlib.sha256).hexdigest()[
                    : 2 * (trunc or 32)
                ],
            }
            for key, data, trunc in _RFC4231
        ],
        "frames": _frame_vectors(),
        "rejects": _reject_vectors(),
    }


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="regenerate vectors.json")
    group.add_argument("--check", action="store_true", help="fail if vectors.json is out of date")
    args = parser.parse_args(argv)
    text = json.dumps(build_vectors(), indent=1) + "\n"
    if args.write:
        VECTORS_PATH.write_text(text)
        print(f"wrote {VECTORS_PATH}")
        return 0
    if VECTORS_PATH.read_text() != text:
        print(f"{VECTORS_PATH} is out of date", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
