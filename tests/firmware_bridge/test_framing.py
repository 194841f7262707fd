"""Python side of the shared vectors: the same file the C unit tests check."""

from __future__ import annotations

import json
import random

import pytest

from biogate.firmware_bridge import messages as m
from biogate.firmware_bridge import vectors
from biogate.firmware_bridge.framing import (
    MAX_WIRE_LEN,
    FrameError,
    build_frame,
    cobs_decode,
    cobs_encode,
    crc16_ccitt_false,
    hmac_tag,
    parse_frame,
    verify_tag,
)

V = json.loads(vectors.VECTORS_PATH.read_text())
KEY = bytes.fromhex(V["key"])


def test_vectors_file_is_current():
    assert vectors.main(["--check"]) == 0


def test_crc_standard_check_value():
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    for case in V["crc16"]:
        assert crc16_ccitt_false(bytes.fromhex(case["data"])) == case["crc"]


def test_hmac_rfc4231_literal_values():
    # RFC 4231 sections 4.2 and 4.3, copied from the RFC text (not from a library run).
    assert V["hmac_sha256"][0]["mac"] == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert V["hmac_sha256"][1]["mac"] == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert len(V["hmac_sha256"]) == 7 and V["hmac_sha256"][4]["truncate"] == 16
    assert V["tag_len"] == 16 == len(hmac_tag(KEY, b"x"))


def test_cobs_vectors_and_roundtrip():
    for case in V["cobs"]:
        raw, enc = bytes.fromhex(case["raw"]), bytes.fromhex(case["encoded"])
        assert cobs_encode(raw) == enc
        assert cobs_decode(enc) == raw
        assert 0 not in enc
    rng = random.Random(4)
    for _ in range(300):
        raw = bytes(rng.choice((0, rng.randrange(256))) for _ in range(rng.randrange(1, 700)))
        assert cobs_decode(cobs_encode(raw)) == raw


def test_frame_vectors_build_and_parse():
    for case in V["frames"]:
        msg_type = case["type"]
        body = m.pack_body(msg_type, *case["fields"], counter=case["counter"])
        wire = build_frame(msg_type, case["seq"], body, KEY, m.has_tag(msg_type))
        assert wire.hex() == case["wire"], case["name"]
        frame = parse_frame(wire[:-1], m.payload_len, m.has_tag)
        assert frame.type == msg_type and frame.seq == case["seq"]
        assert verify_tag(KEY, frame) == m.has_tag(msg_type)
        fields = m.unpack_body(msg_type, frame.payload)
        expected = tuple(case["fields"]) + ((case["counter"],) if case["counter"] is not None else ())
        assert fields == expected


@pytest.mark.parametrize("case", V["rejects"], ids=[c["name"] for c in V["rejects"]])
def test_reject_vectors(case):
    wire = bytes.fromhex(case["wire"])
    assert case["error"] != "ok"
    assert vectors.expected_error(wire, KEY) == case["error"]


def test_parse_rejects_every_single_byte_flip():
    wire = build_frame(m.MsgType.OPEN, 1, m.pack_body(m.MsgType.OPEN, 100, 0, counter=1), KEY, True)[:-1]
    for i in range(len(wire)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(wire)
            bad[i] ^= flip
            if 0 in bad:
                continue  # a flip to 0x00 splits the frame: covered by the truncation vectors
            assert vectors.expected_error(bytes(bad), KEY) != "ok"


def test_oversize_and_empty_blocks():
    with pytest.raises(FrameError) as err:
        parse_frame(b"\x01" * (MAX_WIRE_LEN + 1), m.payload_len, m.has_tag)
    assert err.value.code == "oversize"
    with pytest.raises(FrameError) as err:
        cobs_decode(b"")
    assert err.value.code == "cobs"
