"""Templates encrypted at rest: the gallery key and AES-256-GCM sealing of each template.

Every template is sealed with a fresh random 96-bit nonce and associated data that binds it to
its gallery, its identity and its template id, so a ciphertext copied to another row, another
identity or another gallery fails authentication instead of decrypting to someone else's face.
A key-check record (a sealed known plaintext) tells a wrong key apart from a damaged row.

The key never lives in the database: it comes from a key file (kept away from the database
file, which :func:`check_key_location` enforces) or from an environment variable.
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
            data = path.read_bytes()
        except OSError as exc:
            raise GalleryError(f"cannot read gallery key file {str(path)!r}: {exc.strerror or exc}") from exc
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


def check_key_location(key: GalleryKey, db_path: str | Path) -> None:
    """Refuse a key file kept in the database's own folder: a copied folder must not carry its key."""
    if key.source.startswith("$") or key.source in ("bytes", "generated"):
        return
    key_dir = Path(key.source).resolve().parent
    db_dir = Path(db_path).resolve().parent
    if key_dir == db_dir:
        raise GalleryError(
            f"key file {key.source!r} is in the same folder as gallery {str(db_path)!r}; "
            "keep the key elsewhere (another folder, a secrets store or the environment)"
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

    def key_check(self) -> bytes:
        """A sealed known plaintext stored once per gallery: ``nonce || ciphertext``."""
        nonce, sealed = self.seal("", b"key-check", _CHECK_PLAINTEXT)
        return nonce + sealed

    def verify_key_check(self, record: bytes, db_path: str) -> None:
        """Raise a clear :class:`GalleryError` when the key does not open this gallery."""
        from cryptography.exceptions import InvalidTag

        nonce, sealed = record[:NONCE_BYTES], record[NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad(self._prefix, "", b"key-check"))
        except (InvalidTag, ValueError):
            plain = b""
        if plain != _CHECK_PLAINTEXT:
            raise GalleryError(f"wrong key for gallery {db_path!r} (its key-check record does not open)")
