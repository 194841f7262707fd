"""Templates encrypted at rest: the gallery key and AES-256-GCM sealing of each template.

Every template is sealed with a fresh random 96-bit nonce and associated data that binds it to
its gallery, its identity and its template id, so a ciphertext copied to another row, another
identity or another gallery fails authentication instead of decrypting to someone else's face.
A key-check record (a sealed known plaintext) tells a wrong key apart from a damaged row.

The key never lives in the database: it comes from a key file (kept out of the database's
folder, which :func:`check_key_location` enforces, and readable by its owner only) or from an
environment variable.  A key that is plainly not random is refused (:func:`check_key_strength`).
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import struct
from pathlib import Path

from ..errors import GalleryError

#: Environment variable the CLI and :meth:`GalleryKey.resolve` read the key from.
KEY_ENV = "BIOGATE_GALLERY_KEY"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random nonces are safe far beyond any gallery's size
_AAD_TAG = b"biogate.gallery/1"
_CHECK_PLAINTEXT = b"biogate gallery key check v1"
#: A key is refused when it has fewer distinct byte values, or fewer distinct steps between
#: successive bytes, than this (a random key has about 30 of each; see docs/gallery.md).
MIN_DISTINCT = 16


def _aesgcm(key: bytes):
    # Imported here so a broken cryptography install names itself only when a gallery is used.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _decode_key_text(text: bytes, where: str) -> bytes:
    """A key file or variable holds 32 raw bytes, 64 hex digits or base64 of 32 bytes."""
    if len(text) == KEY_BYTES:
        return bytes(text)
    stripped = text.strip()
    try:
        if len(stripped) == 2 * KEY_BYTES:
            return binascii.unhexlify(stripped)
        raw = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise GalleryError(
            f"{where} does not hold a gallery key: expected 32 raw bytes, 64 hex digits or base64 of "
            f"32 bytes (make one with `biogate gallery keygen --out PATH`)"
        )
    return raw


class GalleryKey:
    """A 256-bit AES key for a gallery; ``repr`` never shows it.

    Get one with :meth:`from_file`, :meth:`from_env`, :meth:`generate` or :meth:`resolve`.
    """

    __slots__ = ("_key", "source")

    def __init__(self, key: bytes, source: str = "bytes") -> None:
        if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
            raise GalleryError(f"a gallery key is {KEY_BYTES} bytes; got {type(key).__name__} from {source}")
        check_key_strength(bytes(key), source)
        self._key = bytes(key)
        self.source = source

    def __repr__(self) -> str:
        return f"GalleryKey(source={self.source!r})"

    @property
    def secret(self) -> bytes:
        """The raw key bytes (handle with care)."""
        return self._key

    @classmethod
    def generate(cls) -> GalleryKey:
        """A fresh random key from the OS generator."""
        return cls(os.urandom(KEY_BYTES), "generated")

    @classmethod
    def from_file(cls, path: str | Path) -> GalleryKey:
        """Read a key file (raw, hex or base64)."""
        path = Path(path)
        try:
            mode = path.stat().st_mode
            data = path.read_bytes()
        except OSError as exc:
            raise GalleryError(f"cannot read gallery key file {str(path)!r}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(mode):
            raise GalleryError(f"gallery key file {str(path)!r} is not a regular file")
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise GalleryError(
                f"gallery key file {str(path)!r} is open to group or others (mode {stat.S_IMODE(mode):04o}); "
                f"make it owner-only: chmod 600 {path}"
            )
        return cls(_decode_key_text(data, f"key file {str(path)!r}"), str(path))

    @classmethod
    def from_env(cls, name: str = KEY_ENV) -> GalleryKey:
        """Read the key from environment variable ``name`` (hex or base64)."""
        value = os.environ.get(name)
        if not value:
            raise GalleryError(f"environment variable {name} is not set; it should hold the gallery key")
        return cls(
            _decode_key_text(value.encode("ascii", "replace"), f"environment variable {name}"), f"${name}"
        )

    @classmethod
    def resolve(cls, key_file: str | Path | None = None, env: str = KEY_ENV) -> GalleryKey:
        """The key from ``key_file`` when given, else from environment variable ``env``."""
        if key_file is not None:
            return cls.from_file(key_file)
        if os.environ.get(env):
            return cls.from_env(env)
        raise GalleryError(f"no gallery key: pass a key file (--key-file PATH) or set {env}")

    def write(self, path: str | Path) -> Path:
        """Write the key as hex to a new file readable by its owner only; never overwrites."""
        path = Path(path)
        try:
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        except FileExistsError:
            raise GalleryError(
                f"key file {str(path)!r} already exists; refusing to overwrite a key"
            ) from None
        except OSError as exc:
            raise GalleryError(f"cannot create key file {str(path)!r}: {exc.strerror or exc}") from exc
        with os.fdopen(fd, "wb") as fh:
            fh.write(binascii.hexlify(self._key) + b"\n")
        return path


def check_key_strength(key: bytes, source: str) -> None:
    """Refuse a key that is plainly not random (the rule of docs/gallery.md, "Keys").

    A key with fewer than :data:`MIN_DISTINCT` distinct byte values (``aaaa…``, a repeated
    word), fewer than :data:`MIN_DISTINCT` distinct differences between successive bytes
    (``00 01 02 …``, any arithmetic pattern), or made of printable ASCII only (a typed
    password) is refused.  A key from the OS generator trips this with probability < 10⁻¹³.
    """
    steps = {(b - a) & 0xFF for a, b in zip(key, key[1:])}
    printable = all(0x20 <= b < 0x7F for b in key)
    if len(set(key)) < MIN_DISTINCT or len(steps) < MIN_DISTINCT or printable:
        why = "is printable text (a password?)" if printable else "repeats a few byte values or a pattern"
        raise GalleryError(
            f"the gallery key from {source} {why}, not random bytes; "
            "make a real one with `biogate gallery keygen --out PATH`"
        )


def check_key_location(key: GalleryKey, db_path: str | Path) -> None:
    """Refuse a key file anywhere under the database's folder: a copied folder must not carry its key."""
    if key.source.startswith("$") or key.source in ("bytes", "generated"):
        return
    key_path = Path(key.source).resolve()
    db_dir = Path(db_path).resolve().parent
    if db_dir in key_path.parents:
        raise GalleryError(
            f"key file {key.source!r} is inside {str(db_dir)!r}, the folder of gallery {str(db_path)!r}; "
            "keep the key outside it (another folder, a secrets store or the environment)"
        )


def _aad_prefix(gallery_uuid: bytes) -> bytes:
    return _AAD_TAG + struct.pack(">H", len(gallery_uuid)) + gallery_uuid


def _aad(prefix: bytes, identity_id: str, template_id: bytes) -> bytes:
    # Length-prefixed fields: no choice of identity id can collide with another (id, tid) pair.
    ident = identity_id.encode("utf-8")
    return b"".join(
        (prefix, struct.pack(">I", len(ident)), ident, struct.pack(">H", len(template_id)), template_id)
    )


class TemplateCipher:
    """Seals and opens the templates of one gallery (identified by its random uuid)."""

    def __init__(self, key: GalleryKey, gallery_uuid: bytes) -> None:
        self._aead = _aesgcm(key.secret)
        self._prefix = _aad_prefix(bytes(gallery_uuid))  # tag and gallery uuid: the same for every row

    def seal(self, identity_id: str, template_id: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
        """Encrypt one template; returns ``(nonce, ciphertext_with_tag)``."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, plaintext, _aad(self._prefix, identity_id, template_id))

    def open(self, identity_id: str, template_id: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
        """Decrypt one template; a modified, moved or foreign ciphertext is a :class:`GalleryError`."""
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(
                bytes(nonce), bytes(ciphertext), _aad(self._prefix, identity_id, template_id)
            )
        except (InvalidTag, ValueError):
            raise GalleryError(
                f"template {binascii.hexlify(bytes(template_id)).decode()} of identity {identity_id!r} "
                "failed authentication: the row was modified or moved from another identity or gallery"
            ) from None

    def open_record(self, record: bytes, name: bytes) -> bytes | None:
        """Decrypt a gallery-wide sealed record (``nonce || ciphertext``) named ``name``; None if it fails."""
        from cryptography.exceptions import InvalidTag

        if not isinstance(record, bytes) or len(record) <= NONCE_BYTES:
            return None
        try:
            aad = _aad(self._prefix, "", name)
            return self._aead.decrypt(record[:NONCE_BYTES], record[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            return None

    def key_check(self) -> bytes:
        """A sealed known plaintext stored once per gallery: ``nonce || ciphertext``."""
        nonce, sealed = self.seal("", b"key-check", _CHECK_PLAINTEXT)
        return nonce + sealed

    def verify_key_check(self, record: bytes, db_path: str) -> None:
        """Raise a clear :class:`GalleryError` when the key does not open this gallery."""
        if self.open_record(record, b"key-check") != _CHECK_PLAINTEXT:
            raise GalleryError(f"wrong key for gallery {db_path!r} (its key-check record does not open)")
