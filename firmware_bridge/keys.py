"""Per-device key handling: load, validate, generate. The key is never logged or printed."""

from __future__ import annotations

import binascii
import os
import secrets
import stat
from pathlib import Path

from biogate.errors import ConfigError

from .framing import KEY_LEN

KEY_ENV = "BIOGATE_GATE_KEY"


class GateKey(bytes):
    """The 32 key bytes plus where they came from (``source``: "file PATH" or "$VAR").

    Error messages name the source (e.g. a key that does not match the controller); the
    value never appears in ``repr``/``str``.
    """

    source: str

    def __new__(cls, data: bytes, source: str) -> GateKey:
        obj = super().__new__(cls, data)
        obj.source = source
        return obj

    def __repr__(self) -> str:
        return f"GateKey(<{len(self)} bytes from {self.source}>)"

    __str__ = __repr__


def check_key(key: bytes | bytearray) -> bytes:
    """Return ``key`` as bytes after checking its type and length (the message never shows it)."""
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_LEN:
        size = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
        raise ConfigError(f"gate key must be {KEY_LEN} bytes, got {size}")
    return bytes(key)


def parse_key_text(text: str, where: str) -> bytes:
    """A key written as 64 hex digits (whitespace ignored); ``where`` names the source in errors."""
    digits = "".join(text.split())
    try:
        key = binascii.unhexlify(digits)
    except (binascii.Error, ValueError):
        raise ConfigError(f"gate key in {where} is not hex ({2 * KEY_LEN} hex digits expected)") from None
    if len(key) != KEY_LEN:
        raise ConfigError(f"gate key in {where} has {len(key)} bytes, {KEY_LEN} expected")
    return key


def key_source(key: bytes) -> str:
    """Where a key came from, for error messages ("the gate key" if nobody said)."""
    source = getattr(key, "source", None)
    return f"the gate key from {source}" if source else "the gate key passed to GateClient"


def load_key(path: str | None = None, env: str = KEY_ENV) -> GateKey:
    """Load the key from ``path`` (64 hex digits, or 32 raw bytes) or else from ``$env``."""
    if path:
        p = Path(path)
        try:
            data = p.read_bytes()
            mode = p.stat().st_mode
        except OSError as exc:
            raise ConfigError(f"cannot read gate key file {path}: {exc.strerror}") from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"gate key file {path} is readable by others: chmod 600 {path}")
        if len(data) == KEY_LEN:
            return GateKey(data, f"file {path}")
        return GateKey(parse_key_text(data.decode("ascii", "replace"), f"file {path}"), f"file {path}")
    text = os.environ.get(env)
    if not text:
        raise ConfigError(f"no gate key: pass a key file or set ${env} (64 hex digits)")
    return GateKey(parse_key_text(text, f"${env}"), f"${env}")


def generate_key_file(path: str) -> None:
    """Write a fresh random key as hex to ``path`` with mode 0600 (refuses to overwrite)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"gate key file {path} exists; refusing to overwrite it") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(KEY_LEN) + "\n")
