"""Shared test vectors: generated once from this package, checked by the C and Python tests.

``python -m biogate.firmware_bridge.vectors --write`` regenerates ``vectors.json`` (only
needed after a deliberate protocol change; commit the diff). ``--check`` verifies that the
file still matches what this Python implementation produces. ``--corpus DIR`` writes the
fuzz seeds (``firmware/fuzz/corpus``) from the same frames.
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
from .session import SESSION_LABEL, controller_nonce, derive_session_key

VECTORS_PATH = Path(__file__).resolve().parent / "vectors.json"
TEST_KEY = bytes(range(32))  # a published test key: never provision it on a device
OTHER_KEY = bytes(range(32, 64))
HOST_NONCE = bytes(range(0xA0, 0xB0))
CTRL_NONCE = bytes(range(0xC0, 0xD0))
SESSION_KEY = derive_session_key(TEST_KEY, HOST_NONCE, CTRL_NONCE)
# The same nonces under another device key, and another session of the test key.
OTHER_KEY_SESSION = derive_session_key(OTHER_KEY, HOST_NONCE, CTRL_NONCE)
OTHER_SESSION = derive_session_key(TEST_KEY, HOST_NONCE, bytes(range(0xD0, 0xE0)))
NONCE_ENTROPY = bytes(range(0x40, 0x60))

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


def key_for(msg_type: int) -> str:
    """Which key tags a type: 'session' (SK), 'device' (K, REFUSE only) or 'none' (HELLO)."""
    if not m.has_tag(msg_type):
        return "none"
    return "device" if msg_type == m.MsgType.REFUSE else "session"


def _key_bytes(which: str, session_key: bytes = SESSION_KEY) -> bytes | None:
    return {"session": session_key, "device": TEST_KEY, "none": None}[which]


def _frame_vectors() -> list[dict[str, Any]]:
    specs = [
        ("hello", m.MsgType.HELLO, 1, [HOST_NONCE], None),
        ("challenge", m.MsgType.CHALLENGE, 1, [CTRL_NONCE], None),
        ("heartbeat", m.MsgType.HEARTBEAT, 2, [], 1),
        ("status_req", m.MsgType.STATUS_REQ, 3, [], 2),
        ("open", m.MsgType.OPEN, 4, [3000, 1], 3),
        ("deny", m.MsgType.DENY, 5, [2], 4),
        ("alarm", m.MsgType.ALARM, 6, [3], 5),
        ("ack", m.MsgType.ACK, 4, [3], 2),
        ("nak_replay", m.MsgType.NAK, 7, [m.NakCode.REPLAY, 3], 3),
        ("status", m.MsgType.STATUS, 3, [1, 0, 0x0009, 0x0200, 123456, 7], 1),
        ("event_door_forced", m.MsgType.EVENT, 0, [m.EventKind.DOOR_FORCED, 5000], 4),
        ("refuse_no_session", m.MsgType.REFUSE, 8, [m.NakCode.NO_SESSION, bytes(range(8))], None),
        ("open_max_seq", m.MsgType.OPEN, 0xFFFF, [65535, 255], 0xFFFFFFFF),
    ]
    out = []
    for name, msg_type, seq, fields, counter in specs:
        body = m.pack_body(msg_type, *fields, counter=counter)
        which = key_for(msg_type)
        wire = build_frame(msg_type, seq, body, _key_bytes(which), m.has_tag(msg_type))
        out.append(
            {
                "name": name,
                "type": int(msg_type),
                "seq": seq,
                "fields": [f.hex() if isinstance(f, bytes) else int(f) for f in fields],
                "counter": counter,
                "key": which,
                "body": body.hex(),
                "wire": wire.hex(),
            }
        )
    return out


def _raw(msg_type: int, seq: int, payload: bytes, version: int = 2, fix_len: bool = True) -> bytes:
    length = len(payload) if fix_len else len(payload) + 1
    raw = struct.pack("<BBHB", version, msg_type, seq, length) + payload
    return raw + struct.pack("<H", crc16_ccitt_false(raw))


def _open(key: bytes, seq: int = 9, counter: int = 9) -> bytes:
    return build_frame(m.MsgType.OPEN, seq, m.pack_body(m.MsgType.OPEN, 500, 0, counter=counter), key, True)


def _reject_vectors() -> list[dict[str, Any]]:
    good = _open(SESSION_KEY)
    raw = bytearray(_decode(good))
    bad_crc = bytearray(raw)
    bad_crc[-1] ^= 0x40
    bad_tag = bytearray(raw[:-CRC_LEN])
    bad_tag[-1] ^= 0x01
    bad_tag += struct.pack("<H", crc16_ccitt_false(bytes(bad_tag)))
    open_body = bytes(raw[HEADER_LEN:-CRC_LEN])
    # Protocol version 1's OPEN test vector (PROTOCOL.md of v1): refused as a version error.
    v1_open = bytes.fromhex(
        "0401100306 17b80b01010101 13c1e3cff85b3d831aa91d0774ef75f7e088ab00".replace(" ", "")
    )
    cases = [
        ("bad_crc", cobs_encode(bytes(bad_crc))),
        ("bad_tag", cobs_encode(bytes(bad_tag))),
        ("wrong_key", _open(OTHER_KEY_SESSION)[:-1]),
        ("other_session", _open(OTHER_SESSION)[:-1]),
        ("long_term_key_as_session_key", _open(TEST_KEY)[:-1]),
        ("unknown_type", cobs_encode(_raw(0x55, 10, b""))),
        ("controller_type_to_host_side", cobs_encode(_raw(m.MsgType.HEARTBEAT + 0x70, 11, b""))),
        ("bad_version", cobs_encode(_raw(m.MsgType.OPEN, 12, open_body, version=3))),
        ("protocol_v1_open", v1_open),
        ("open_one_byte_short", cobs_encode(_raw(m.MsgType.OPEN, 13, open_body[:-1]))),
        ("heartbeat_without_counter", cobs_encode(_raw(m.MsgType.HEARTBEAT, 14, b""))),
        ("hello_short_nonce", cobs_encode(_raw(m.MsgType.HELLO, 15, HOST_NONCE[:-1]))),
        ("header_length_lies", cobs_encode(_raw(m.MsgType.HELLO, 16, HOST_NONCE, fix_len=False))),
        ("truncated_half", good[: len(good) // 2]),
        ("truncated_to_header", cobs_encode(bytes(raw[:4]))),
        ("oversize", bytes([0xFF]) + bytes(range(1, 255))),
        ("cobs_code_past_end", bytes([0x09, 0x01, 0x02])),
        ("garbage", bytes.fromhex("13 37 c0 ff ee 42 99 01 02 03 04 05 06 07 08 09 0a")),
    ]
    out = []
    for name, wire in cases:
        out.append({"name": name, "wire": bytes(wire).hex(), "error": expected_error(bytes(wire))})
    return out


def _decode(wire: bytes) -> bytes:
    from .framing import cobs_decode

    return cobs_decode(wire[:-1] if wire.endswith(b"\x00") else wire)


def expected_error(wire: bytes, key: bytes = TEST_KEY, session_key: bytes = SESSION_KEY) -> str:
    """What the firmware must conclude about one block: 'ok' or its gate_error name.

    Tags are checked under the key their type uses: the session key, or ``key`` for REFUSE.
    """
    block = wire[:-1] if wire.endswith(b"\x00") else wire
    try:
        frame = parse_frame(block, m.payload_len, m.has_tag)
    except FrameError as exc:
        return exc.code
    which = key_for(frame.type)
    if which != "none" and not verify_tag(key if which == "device" else session_key, frame):
        return "tag"
    return "ok"


def _handshake_vectors() -> dict[str, Any]:
    hello = build_frame(m.MsgType.HELLO, 1, HOST_NONCE, None, False)
    challenge = build_frame(m.MsgType.CHALLENGE, 1, CTRL_NONCE, SESSION_KEY, True)
    return {
        "label": SESSION_LABEL.decode(),
        "host_nonce": HOST_NONCE.hex(),
        "ctrl_nonce": CTRL_NONCE.hex(),
        "session_key": SESSION_KEY.hex(),
        "hello_wire": hello.hex(),
        "challenge_wire": challenge.hex(),
        "nonce": {
            "entropy": NONCE_ENTROPY.hex(),
            "boot_count": 7,
            "handshake": 3,
            "nonce": controller_nonce(NONCE_ENTROPY, 7, 3).hex(),
        },
    }


def build_vectors() -> dict[str, Any]:
    """Every vector, computed from this package (and hashlib/hmac for SHA-256 and HMAC)."""
    return {
        "comment": "Generated by python -m biogate.firmware_bridge.vectors --write; see PROTOCOL.md.",
        "protocol_version": 2,
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
        "handshake": _handshake_vectors(),
        "frames": _frame_vectors(),
        "rejects": _reject_vectors(),
    }


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="regenerate vectors.json")
    group.add_argument("--check", action="store_true", help="fail if vectors.json is out of date")
    group.add_argument("--corpus", metavar="DIR", help="write the fuzz seeds into DIR (replacing *.bin)")
    args = parser.parse_args(argv)
    if args.corpus:
        from .corpus import write_corpus

        count = write_corpus(Path(args.corpus))
        print(f"wrote {count} seeds into {args.corpus}")
        return 0
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
