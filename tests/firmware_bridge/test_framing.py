"""Python side of the shared vectors: the same file the C unit tests check."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import pytest

from biogate.firmware_bridge import messages as m
from biogate.firmware_bridge import session, vectors
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
HS = V["handshake"]
SK = bytes.fromhex(HS["session_key"])


def test_vectors_file_is_current():
    assert vectors.main(["--check"]) == 0
    assert V["protocol_version"] == 2


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


def test_session_key_derivation_as_documented():
    # Recomputed from PROTOCOL.md's formula with hmac/hashlib alone, not through session.py.
    hn, cn = bytes.fromhex(HS["host_nonce"]), bytes.fromhex(HS["ctrl_nonce"])
    label = b"biogate gate session v2"
    assert HS["label"].encode() == label and len(label) == 23
    assert hmac.new(KEY, label + hn + cn, hashlib.sha256).digest() == SK
    assert session.derive_session_key(KEY, hn, cn) == SK
    nv = HS["nonce"]
    raw = b"biogate gate nonce v2" + bytes.fromhex(nv["entropy"]) + nv["boot_count"].to_bytes(4, "little")
    raw += nv["handshake"].to_bytes(4, "little")
    assert hashlib.sha256(raw).digest()[:16].hex() == nv["nonce"]
    assert (
        session.controller_nonce(bytes.fromhex(nv["entropy"]), nv["boot_count"], nv["handshake"]).hex()
        == nv["nonce"]
    )


def test_handshake_wire_bytes():
    hello = build_frame(m.MsgType.HELLO, 1, bytes.fromhex(HS["host_nonce"]), None, False)
    assert hello.hex() == HS["hello_wire"]
    challenge = parse_frame(bytes.fromhex(HS["challenge_wire"])[:-1], m.payload_len, m.has_tag)
    assert challenge.type == m.MsgType.CHALLENGE and challenge.payload.hex() == HS["ctrl_nonce"]
    assert verify_tag(SK, challenge) and not verify_tag(KEY, challenge)


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
    keys = {"session": SK, "device": KEY, "none": None}
    assert {c["name"] for c in V["frames"]} >= {"hello", "challenge", "open", "refuse_no_session"}
    for case in V["frames"]:
        msg_type = case["type"]
        fields = [bytes.fromhex(f) if isinstance(f, str) else f for f in case["fields"]]
        body = m.pack_body(msg_type, *fields, counter=case["counter"])
        assert body.hex() == case["body"], case["name"]
        key = keys[case["key"]]
        wire = build_frame(msg_type, case["seq"], body, key, m.has_tag(msg_type))
        assert wire.hex() == case["wire"], case["name"]
        frame = parse_frame(wire[:-1], m.payload_len, m.has_tag)
        assert frame.type == msg_type and frame.seq == case["seq"]
        if key is not None:
            assert verify_tag(key, frame)
            assert not verify_tag(KEY if key is SK else SK, frame)  # the two keys never mix
        expected = tuple(fields) + ((case["counter"],) if case["counter"] is not None else ())
        assert m.unpack_body(msg_type, frame.payload) == expected


@pytest.mark.parametrize("case", V["rejects"], ids=[c["name"] for c in V["rejects"]])
def test_reject_vectors(case):
    wire = bytes.fromhex(case["wire"])
    assert case["error"] != "ok"
    assert vectors.expected_error(wire) == case["error"]


def test_frames_of_another_session_or_key_do_not_verify():
    errors = {c["name"]: c["error"] for c in V["rejects"]}
    assert errors["other_session"] == errors["wrong_key"] == errors["long_term_key_as_session_key"] == "tag"
    assert errors["protocol_v1_open"] == "version"


def test_parse_rejects_every_single_byte_flip():
    wire = build_frame(m.MsgType.OPEN, 1, m.pack_body(m.MsgType.OPEN, 100, 0, counter=1), SK, True)[:-1]
    for i in range(len(wire)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(wire)
            bad[i] ^= flip
            if 0 in bad:
                continue  # a flip to 0x00 splits the frame: covered by the truncation vectors
            assert vectors.expected_error(bytes(bad)) != "ok"


def test_oversize_and_empty_blocks():
    with pytest.raises(FrameError) as err:
        parse_frame(b"\x01" * (MAX_WIRE_LEN + 1), m.payload_len, m.has_tag)
    assert err.value.code == "oversize"
    with pytest.raises(FrameError) as err:
        cobs_decode(b"")
    assert err.value.code == "cobs"


def test_session_counters_and_refs():
    s = session.Session(KEY, bytes(16), bytes(range(16)))
    assert s.id == int.from_bytes(bytes(range(4)), "little") and "key" not in repr(s).lower()
    assert [s.next_counter() for _ in range(3)] == [1, 2, 3]
    assert s.accept_rx(5) and not s.accept_rx(5) and not s.accept_rx(4) and s.accept_rx(9)
    s.sent(b"12345678")
    assert s.knows(b"12345678") and not s.knows(b"87654321")
    assert session.ref_of(bytes(range(40))) == bytes(range(24, 32))
    assert session.ref_of(b"short") == bytes(8)


def test_corpus_is_current(tmp_path):
    from biogate.firmware_bridge.corpus import write_corpus
    from biogate.firmware_bridge.simulator import FIRMWARE_DIR

    write_corpus(tmp_path)
    shipped = FIRMWARE_DIR / "fuzz" / "corpus"
    fresh = {p.name: p.read_bytes() for p in tmp_path.glob("*.bin")}
    assert fresh == {p.name: p.read_bytes() for p in shipped.glob("*.bin")}
