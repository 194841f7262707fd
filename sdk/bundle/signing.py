"""Ed25519 signatures over bundle manifests: which key vouches for a bundle.

**What is signed**: the exact bytes of ``manifest.json`` as stored in the bundle — no
canonicalisation, so the device verifies the bytes it then parses.  The manifest already carries
every shipped file's size and sha256, so one signature covers the whole bundle.

**manifest.sig** (detached, beside the manifest) is a small JSON object::

    {"schema": "biogate.sig/1", "algorithm": "ed25519", "key_id": "ed25519:3f1c…",
     "public_key": "<base64 of the 32-byte raw key>", "signature": "<base64 of 64 bytes>"}

``key_id`` is ``ed25519:`` + the first 16 hex digits of sha256(raw public key).  The embedded public
key only names the signer: a bundle is accepted only when that key is in the *trust set*.

**Trust set** (:meth:`TrustStore.resolve`), first that applies:

1. keys given explicitly (``trusted_keys=`` / kiosk.toml ``[models] trusted_keys``) — only those;
2. ``$BIOGATE_TRUSTED_KEYS``: files or folders, separated by ``os.pathsep`` — only those;
3. otherwise the defaults: every ``*.pub``/``*.pem`` in ``/etc/biogate/trusted_keys/`` and in
   ``~/.config/biogate/trusted_keys/`` (``biogate bundle trust``), plus this user's own signing
   key (so bundles exported on this account verify with no configuration).

**Signing key**: ``$BIOGATE_SIGNING_KEY`` or ``~/.config/biogate/signing/bundle_signing.key``
(``$XDG_CONFIG_HOME`` honoured), PKCS#8 PEM, created 0600 in a 0700 folder on first export.

``BIOGATE_ALLOW_UNSIGNED=1`` (development only) accepts a bundle with no signature or one signed
by an untrusted key, with a warning on every load; a signature that does not match the manifest
it names is refused even then.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Union

from ..errors import BundleError, ConfigError

log = logging.getLogger("biogate.bundle")

SIGNATURE = "manifest.sig"
SIG_SCHEMA = "biogate.sig/1"
ALGORITHM = "ed25519"
ALLOW_UNSIGNED_ENV = "BIOGATE_ALLOW_UNSIGNED"
TRUSTED_KEYS_ENV = "BIOGATE_TRUSTED_KEYS"
SIGNING_KEY_ENV = "BIOGATE_SIGNING_KEY"
SYSTEM_TRUST_DIR = Path("/etc/biogate/trusted_keys")
KEY_SUFFIXES = (".pub", ".pem")
_MAX_KEY_FILE = 16 * 1024


def _crypto() -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return serialization, ed25519


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/biogate`` or ``~/.config/biogate``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "biogate"


def default_signing_key_path() -> Path:
    """Where the exporter's signing key lives: ``$BIOGATE_SIGNING_KEY`` or the per-user default."""
    env = os.environ.get(SIGNING_KEY_ENV)
    return Path(env).expanduser() if env else config_dir() / "signing" / "bundle_signing.key"


def user_trust_dir() -> Path:
    """The per-user folder ``biogate bundle trust`` writes to."""
    return config_dir() / "trusted_keys"


def allow_unsigned() -> bool:
    """True when ``$BIOGATE_ALLOW_UNSIGNED`` is set to 1/true/yes/on (development override)."""
    return os.environ.get(ALLOW_UNSIGNED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class PublicKey:
    """A raw Ed25519 public key and where it was read from."""

    raw: bytes
    source: str = ""

    @property
    def key_id(self) -> str:
        return f"{ALGORITHM}:{hashlib.sha256(self.raw).hexdigest()[:16]}"

    def verify(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        _, ed25519 = _crypto()
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> bytes:
        serialization, ed25519 = _crypto()
        return ed25519.Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _raw_public(key: Any) -> bytes:
    serialization, _ = _crypto()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key(path: str | Path) -> PublicKey:
    """An Ed25519 public key from a PEM (SubjectPublicKeyInfo) or OpenSSH ``ssh-ed25519`` file."""
    path = Path(path)
    serialization, ed25519 = _crypto()
    try:
        data = path.read_bytes()[:_MAX_KEY_FILE]
    except OSError as exc:
        raise ConfigError(f"trusted key {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    try:
        if data.lstrip().startswith(b"ssh-"):
            key = serialization.load_ssh_public_key(data.strip())
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"trusted key {str(path)!r} is not a PEM or OpenSSH public key: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ConfigError(f"trusted key {str(path)!r} is not an Ed25519 key ({type(key).__name__})")
    return PublicKey(_raw_public(key), str(path))


class SigningKey:
    """An Ed25519 private key that signs bundle manifests."""

    def __init__(self, private: Any, path: Path | None = None) -> None:
        self._private = private
        self.path = path

    @classmethod
    def generate(cls) -> SigningKey:
        _, ed25519 = _crypto()
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: str | Path) -> SigningKey:
        """Read a PKCS#8 PEM key; refuses a file others can read (chmod 600)."""
        path = Path(path).expanduser()
        serialization, ed25519 = _crypto()
        try:
            st = path.stat()
            data = path.read_bytes()[:_MAX_KEY_FILE]
        except FileNotFoundError:
            raise ConfigError(f"signing key {str(path)!r} does not exist (biogate bundle keygen)") from None
        except OSError as exc:
            raise ConfigError(f"signing key {str(path)!r} cannot be read: {exc.strerror or exc}") from None
        if os.name == "posix" and st.st_mode & 0o077:
            raise ConfigError(
                f"signing key {str(path)!r} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                f"chmod 600 {path}"
            )
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"signing key {str(path)!r} is not an unencrypted PEM private key: {exc}"
            ) from None
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ConfigError(f"signing key {str(path)!r} is not an Ed25519 key")
        return cls(key, path)

    @property
    def public(self) -> PublicKey:
        return PublicKey(_raw_public(self._private.public_key()), f"signing key {self.path or '(memory)'}")

    def sign(self, data: bytes) -> bytes:
        return bytes(self._private.sign(data))

    def write(self, path: str | Path) -> Path:
        """Write the key 0600 (and ``<path>.pub``) without ever replacing an existing key file."""
        serialization, _ = _crypto()
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(str(tmp), str(path))  # atomic and never over an existing key
        finally:
            tmp.unlink()
        self.path = path
        _write_public(path, self.public)
        return path


def _write_public(key_path: Path, public: PublicKey) -> Path:
    pub = key_path.with_name(key_path.name + ".pub")
    tmp = pub.with_name(f".{pub.name}.{os.getpid()}.tmp")
    tmp.write_bytes(public.pem())
    os.replace(str(tmp), str(pub))
    return pub


def load_or_create_signing_key(path: str | Path | None = None) -> SigningKey:
    """The signing key at ``path`` (default :func:`default_signing_key_path`), created on first use."""
    target = Path(path).expanduser() if path is not None else default_signing_key_path()
    if not target.exists():
        try:
            key = SigningKey.generate()
            key.write(target)
            log.warning("created a bundle signing key %s (public key %s, id %s)",
                        target, target.name + ".pub", key.public.key_id)  # fmt: skip
            return key
        except FileExistsError:
            pass  # another process created it first: use theirs
    return SigningKey.load(target)


def _own_public_key() -> PublicKey | None:
    """This account's signing key's public half, if a key exists (never created here)."""
    path = default_signing_key_path()
    if not path.is_file():
        return None
    try:
        return SigningKey.load(path).public
    except ConfigError as exc:
        log.warning("own signing key not trusted: %s", exc)
        return None


KeySpec = Union[str, Path, PublicKey]


class TrustStore:
    """The public keys this device accepts bundle signatures from, by key id."""

    def __init__(self, keys: Iterable[PublicKey], origin: str) -> None:
        self.keys: dict[str, PublicKey] = {}
        for key in keys:
            self.keys.setdefault(key.key_id, key)
        self.origin = origin

    @classmethod
    def from_specs(cls, specs: Iterable[KeySpec], origin: str) -> TrustStore:
        """Keys from files, folders (their ``*.pub``/``*.pem``) and :class:`PublicKey` objects."""
        keys: list[PublicKey] = []
        for spec in specs:
            if isinstance(spec, PublicKey):
                keys.append(spec)
                continue
            path = Path(spec).expanduser()
            if path.is_dir():
                keys += [load_public_key(p) for p in sorted(path.iterdir()) if p.suffix in KEY_SUFFIXES]
            elif path.exists():
                keys.append(load_public_key(path))
            else:
                raise ConfigError(f"trusted key {str(path)!r} does not exist ({origin})")
        return cls(keys, origin)

    @classmethod
    def resolve(cls, trusted: TrustStore | Iterable[KeySpec] | None = None) -> TrustStore:
        """The trust set: explicit keys, else ``$BIOGATE_TRUSTED_KEYS``, else the defaults."""
        if isinstance(trusted, TrustStore):
            return trusted
        if trusted is not None:
            return cls.from_specs(list(trusted), "configured trusted_keys")
        env = os.environ.get(TRUSTED_KEYS_ENV)
        if env:
            return cls.from_specs([p for p in env.split(os.pathsep) if p], f"${TRUSTED_KEYS_ENV}")
        specs: list[KeySpec] = [d for d in (SYSTEM_TRUST_DIR, user_trust_dir()) if d.is_dir()]
        own = _own_public_key()
        if own is not None:
            specs.append(own)
        return cls.from_specs(specs, f"{SYSTEM_TRUST_DIR}, {user_trust_dir()} and this user's signing key")

    def get(self, key_id: str) -> PublicKey | None:
        return self.keys.get(key_id)

    def describe(self) -> str:
        ids = ", ".join(sorted(self.keys)) or "none"
        return f"{len(self.keys)} trusted key(s) from {self.origin}: {ids}"


def signature_document(manifest_bytes: bytes, key: SigningKey) -> dict[str, str]:
    """The ``manifest.sig`` object for ``manifest_bytes`` signed by ``key``."""
    return {
        "schema": SIG_SCHEMA,
        "algorithm": ALGORITHM,
        "key_id": key.public.key_id,
        "public_key": base64.b64encode(key.public.raw).decode("ascii"),
        "signature": base64.b64encode(key.sign(manifest_bytes)).decode("ascii"),
    }


def write_signature(root: Path, manifest_bytes: bytes, key: SigningKey) -> Path:
    """Write ``root/manifest.sig`` for these manifest bytes (atomic replace)."""
    doc = signature_document(manifest_bytes, key)
    target = Path(root) / SIGNATURE
    tmp = target.with_name(f".{SIGNATURE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(str(tmp), str(target))
    return target


@dataclass(frozen=True)
class Signer:
    """Who vouched for a bundle: the key id, or ``None`` with the reason the override let it in."""

    key_id: str | None
    source: str = ""
    override: str = ""  # non-empty: accepted only because of BIOGATE_ALLOW_UNSIGNED


def _parse_signature(root: Path, data: bytes) -> tuple:
    where = f"bundle {root}: {SIGNATURE}"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleError(f"{where} is not JSON") from None
    if not isinstance(doc, dict) or doc.get("schema") != SIG_SCHEMA or doc.get("algorithm") != ALGORITHM:
        raise BundleError(f"{where} is not a {SIG_SCHEMA} {ALGORITHM} signature")
    try:
        raw = base64.b64decode(str(doc.get("public_key", "")), validate=True)
        sig = base64.b64decode(str(doc.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise BundleError(f"{where}: public_key/signature are not base64") from None
    if len(raw) != 32 or len(sig) != 64:
        raise BundleError(f"{where}: an Ed25519 key is 32 bytes and a signature 64")
    key = PublicKey(raw, "manifest.sig")
    if doc.get("key_id") != key.key_id:
        raise BundleError(f"{where}: key_id {doc.get('key_id')!r} does not match its public key {key.key_id}")
    return key, sig


def check_signature(root: Path, manifest_bytes: bytes, sig_bytes: bytes | None, trust: TrustStore) -> Signer:
    """Verify ``manifest.sig`` over the manifest bytes against the trust set.

    Raises:
        BundleError: no signature, a signature that does not verify, or an untrusted key — each
        naming the bundle and the key (the development override accepts the first and last).
    """
    if sig_bytes is None:
        problem = f"bundle {root} is unsigned (no {SIGNATURE}); {trust.describe()}"
    else:
        key, sig = _parse_signature(root, sig_bytes)
        if not key.verify(sig, manifest_bytes):
            raise BundleError(
                f"bundle {root}: {SIGNATURE} by key {key.key_id} does not match manifest.json "
                "(the manifest was changed after signing)"
            )
        trusted = trust.get(key.key_id)
        if trusted is not None:
            return Signer(key.key_id, trusted.source)
        problem = (
            f"bundle {root} is signed by key {key.key_id}, which is not trusted; {trust.describe()} "
            f"(trust it with: biogate bundle trust KEY.pub)"
        )
    if not allow_unsigned():
        raise BundleError(problem)
    log.warning("%s=1: LOADING A BUNDLE BIOGATE CANNOT VOUCH FOR (development only): %s",
                ALLOW_UNSIGNED_ENV, problem)  # fmt: skip
    return Signer(None, "", problem)


__all__ = [
    "ALLOW_UNSIGNED_ENV",
    "SIGNATURE",
    "SIGNING_KEY_ENV",
    "SYSTEM_TRUST_DIR",
    "TRUSTED_KEYS_ENV",
    "PublicKey",
    "Signer",
    "SigningKey",
    "TrustStore",
    "allow_unsigned",
    "check_signature",
    "config_dir",
    "default_signing_key_path",
    "load_or_create_signing_key",
    "load_public_key",
    "user_trust_dir",
    "write_signature",
]
