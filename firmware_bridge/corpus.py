"""Seeds for the firmware fuzz target (``firmware/fuzz/corpus``), made from the shared vectors.

``python -m biogate.firmware_bridge.vectors --corpus firmware_bridge/firmware/fuzz/corpus``.
The first byte of a seed is the target's mode byte (``fuzz/fuzz_parser.c``): raw-mode seeds
carry wire bytes (every frame and rejection vector, handshakes included); script-mode seeds
carry 8-byte records ``{op, seq, arg_lo, arg_hi, ctr, flags, dt, junk}`` that make the
harness handshake, re-handshake, reset the controller and replay old frames.
"""

from __future__ import annotations

from pathlib import Path

from .vectors import build_vectors

# Script ops (record byte 0, low 3 bits), modifiers and flags: see fuzz_parser.c.
OPEN, DENY, ALARM, HEARTBEAT, STATUS, HELLO = 0, 2, 3, 4, 5, 7
PREV_KEY, DEAD_KEY, REPLAY = 8, 16, 32
BACK, DUP, CORRUPT, TRUNCATE, DOOR, NO_ENTROPY = 1, 2, 4, 8, 16, 32


def _rec(
    op: int, seq: int = 1, arg: int = 0, ctr: int = 1, flags: int = 0, dt: int = 1, junk: int = 0
) -> bytes:
    return bytes([op, seq & 0xFF, arg & 0xFF, (arg >> 8) & 0xFF, ctr, flags, dt, junk])


def _scripts() -> dict[str, bytes]:
    opens = b"".join(_rec(OPEN, seq=i, arg=200) for i in range(1, 4))
    reset = _rec(HELLO, arg=0x100)  # HELLO with arg_hi bit0: reset the controller instead
    return {
        "script_commands": b"\x01"
        + opens
        + _rec(OPEN, seq=9, arg=100, flags=DUP)
        + _rec(DENY, seq=10)
        + _rec(ALARM, seq=11, arg=2)
        + _rec(HEARTBEAT, seq=12)
        + _rec(STATUS, seq=13)
        + _rec(OPEN, seq=14, arg=0)
        + _rec(OPEN, seq=15, arg=4000)
        + _rec(OPEN, seq=15, arg=4000, ctr=0),
        "script_replay_in_session": b"\x01"
        + opens
        + _rec(OPEN, seq=20, arg=100, ctr=2, flags=BACK)
        + _rec(REPLAY | OPEN, arg=0)
        + _rec(OPEN, seq=21, arg=100, flags=CORRUPT, junk=9)
        + _rec(OPEN, seq=22, arg=100, flags=TRUNCATE),
        "script_rehandshake": b"\x01"
        + opens
        + _rec(HELLO, seq=30, arg=0x55)
        + _rec(PREV_KEY | OPEN, seq=31, arg=100)
        + _rec(OPEN, seq=32, arg=100)
        + _rec(PREV_KEY | OPEN, seq=33, arg=100)
        + _rec(HELLO, seq=34, arg=0x66, flags=DUP),
        "script_reset_then_replay": b"\x03"
        + opens
        + reset
        + _rec(REPLAY | OPEN, arg=0)
        + _rec(REPLAY | OPEN, arg=1)
        + _rec(REPLAY | OPEN, arg=2)
        + _rec(DEAD_KEY | OPEN, seq=40, arg=100)
        + _rec(HELLO, seq=41, arg=0x77)
        + _rec(REPLAY | OPEN, arg=2)
        + _rec(OPEN, seq=42, arg=100),
        "script_nv_load_fails": b"\x05"
        + opens
        + reset
        + _rec(HELLO, seq=50, arg=1)
        + _rec(OPEN, seq=51, arg=100),
        "script_nv_store_fails": b"\x07"
        + opens
        + reset
        + _rec(HELLO, seq=52, arg=2)
        + _rec(OPEN, seq=53, arg=100),
        "script_entropy_fails": b"\x09"
        + _rec(OPEN, seq=60, arg=100)
        + _rec(HELLO, seq=61, arg=3, flags=NO_ENTROPY)
        + _rec(HELLO, seq=62, arg=4)
        + _rec(OPEN, seq=63, arg=100),
        "script_timers_and_door": b"\x01"
        + _rec(OPEN, seq=70, arg=3000, dt=255)
        + _rec(OPEN, seq=71, arg=3000, flags=DOOR, dt=200)
        + _rec(HEARTBEAT, seq=72, flags=DOOR, dt=255)
        + _rec(STATUS, seq=73, dt=100),
    }


def write_corpus(folder: Path) -> int:
    """Replace ``folder/*.bin`` with the seeds; return how many were written."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.bin"):
        old.unlink()
    vectors = build_vectors()
    seeds: dict[str, bytes] = {}
    for case in vectors["frames"] + vectors["rejects"]:
        wire = bytes.fromhex(case["wire"])
        seeds[case["name"]] = b"\x30" + wire + (b"" if wire.endswith(b"\x00") else b"\x00")
    hs = vectors["handshake"]
    seeds["hello_then_stale_open"] = (
        b"\x10" + bytes.fromhex(hs["hello_wire"]) * 2 + bytes.fromhex(vectors["frames"][4]["wire"])
    )
    seeds.update(_scripts())
    for name, data in seeds.items():
        (folder / f"{name}.bin").write_bytes(data)
    return len(seeds)
