"""Session layer of protocol version 2 (PROTOCOL.md section 3), host side.

The controller answers a HELLO (the host's nonce Nh) with a CHALLENGE (its nonce Nc, tagged
under the new session key); both sides derive
``SK = HMAC-SHA256(K, "biogate gate session v2" ‖ Nh ‖ Nc)`` and every later frame is
tagged under SK and numbered with a per-session counter. Mirrors
``firmware/core/gate_session.c``.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import secrets
import struct
import threading

from .framing import NONCE_LEN, REF_LEN, TAG_LEN, RawFrame

SESSION_LABEL = b"biogate gate session v2"
NONCE_LABEL = b"biogate gate nonce v2"
ENTROPY_LEN = 32
#: Open a new session before the host counter gets this close to wrapping.
COUNTER_LIMIT = 0xFFFFFFFF - 16


def derive_session_key(key: bytes, host_nonce: bytes, ctrl_nonce: bytes) -> bytes:
    """SK from the long-term key and both handshake nonces (32 bytes)."""
    return hmac.new(key, SESSION_LABEL + host_nonce + ctrl_nonce, hashlib.sha256).digest()


def controller_nonce(entropy: bytes, boot_count: int, handshake: int) -> bytes:
    """The controller's nonce derivation (vectors and tests; the firmware draws E from a TRNG)."""
    counts = struct.pack("<II", boot_count & 0xFFFFFFFF, handshake & 0xFFFFFFFF)
    return hashlib.sha256(NONCE_LABEL + entropy + counts).digest()[:NONCE_LEN]


def new_host_nonce() -> bytes:
    """Nh: 16 bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(NONCE_LEN)


def session_id(ctrl_nonce: bytes) -> int:
    """The id traces and ``Ack.session_id`` use: Nc bytes 0..3 as a little-endian u32."""
    return struct.unpack_from("<I", ctrl_nonce)[0]


def ref_of(payload: bytes) -> bytes:
    """What a REFUSE names a frame by: the first 8 of its last 16 payload bytes."""
    return payload[-TAG_LEN:][:REF_LEN] if len(payload) >= TAG_LEN else bytes(REF_LEN)


class Session:
    """One session: its key, both counters and the refs of recent frames sent in it.

    The host's counter is advanced only by the thread holding the client's command lock;
    ``accept_rx`` and ``knows`` run in the reader thread, so they share a lock with ``sent``.
    """

    def __init__(self, key: bytes, host_nonce: bytes, ctrl_nonce: bytes) -> None:
        self.key = derive_session_key(key, host_nonce, ctrl_nonce)
        self.id = session_id(ctrl_nonce)
        self.tx_counter = 0
        self.rx_counter = 0
        self.lost = False
        self._refs: collections.deque[bytes] = collections.deque(maxlen=64)
        self._rx_lock = threading.Lock()

    def next_counter(self) -> int:
        self.tx_counter += 1
        return self.tx_counter

    @property
    def exhausted(self) -> bool:
        return self.tx_counter >= COUNTER_LIMIT

    def sent(self, ref: bytes) -> None:
        """Remember a frame sent in this session, so a REFUSE naming it is believed."""
        with self._rx_lock:  # the reader thread iterates the refs meanwhile
            self._refs.append(ref)

    def knows(self, ref: bytes) -> bool:
        with self._rx_lock:
            return ref in self._refs

    def accept_rx(self, counter: int) -> bool:
        """True (and remembered) if a controller counter is above every one seen so far."""
        with self._rx_lock:
            if counter <= self.rx_counter:
                return False
            self.rx_counter = counter
            return True

    def __repr__(self) -> str:  # the key stays out of logs
        return f"Session(id=0x{self.id:08x}, tx={self.tx_counter}, rx={self.rx_counter})"


class Pending:
    """A frame waiting for its answer: woken by the reader thread, or by link loss (frame None)."""

    __slots__ = ("event", "frame", "ref", "session")

    def __init__(self, ref: bytes, session: Session | None) -> None:
        self.event = threading.Event()
        self.frame: RawFrame | None = None
        self.ref = ref
        self.session = session


class Hello:
    """One handshake attempt: the HELLO's bytes and what its CHALLENGE turned out to be."""

    __slots__ = ("event", "mismatch", "nonce", "refused", "seq", "session", "wire")

    def __init__(self, seq: int, nonce: bytes, wire: bytes) -> None:
        self.seq, self.nonce, self.wire = seq, nonce, wire
        self.event = threading.Event()
        self.session: Session | None = None  # set when the CHALLENGE verified
        self.mismatch = False  # a CHALLENGE came back that does not verify under our key
        self.refused: int | None = None  # REFUSE code (entropy) instead of a CHALLENGE
