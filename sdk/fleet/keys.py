"""End-to-end encryption of the fleet's templates: site keys, wrapped data keys, sealed templates.

Each site has a **site key** (256-bit, a file on the enrolment station and on each kiosk of the
site; never sent to the server) and one or more **data keys**.  A data key is random, encrypts
the site's templates, and is stored on the server only *wrapped*: AES-256-GCM under the site
key, bound to the site id and key version.  So the server and every dump of it hold ciphertexts
and wrapped keys only; opening a template takes the site key, which only the site's kiosks and
the enrolment station have.  Templates are sealed as the local gallery seals them
(:class:`biogate.gallery.crypto.TemplateCipher`): a fresh nonce each, bound to site, key version,
identity and template id, so a row moved to another identity or site fails authentication.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from ..errors import FleetError, GalleryError
from ..gallery import GalleryKey
from ..gallery.crypto import KEY_BYTES, NONCE_BYTES, TemplateCipher

_WRAP_TAG = b"biogate.fleet.data-key/1"
_CONTEXT_TAG = b"biogate.fleet.templates/1"


def _aad(site_id: str, version: int) -> bytes:
    site = site_id.encode("utf-8")
    return _WRAP_TAG + struct.pack(">I", len(site)) + site + struct.pack(">I", version)


def _aesgcm(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def load_site_key(path: str) -> GalleryKey:
    """A site key file (hex, base64 or 32 raw bytes, as ``biogate fleet site add`` writes it)."""
    try:
        return GalleryKey.from_file(path)
    except GalleryError as exc:
        raise FleetError(f"site key: {exc}") from None


def wrap_data_key(site_key: GalleryKey, site_id: str, version: int, data_key: bytes) -> bytes:
    """``nonce || AES-GCM(site key, data key)`` bound to ``site_id`` and ``version``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _aesgcm(site_key.secret).encrypt(nonce, data_key, _aad(site_id, version))


def unwrap_data_key(site_key: GalleryKey, site_id: str, version: int, wrapped: bytes) -> bytes:
    """The data key; a wrong site key (or a wrapped key of another site) is a clear error."""
    from cryptography.exceptions import InvalidTag

    wrapped = bytes(wrapped)
    try:
        key = _aesgcm(site_key.secret).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _aad(site_id, version)
        )
    except (InvalidTag, ValueError):
        raise FleetError(
            f"site key {site_key.source!r} does not open data key v{version} of site {site_id!r} "
            "(wrong site key, or the row was tampered with)"
        ) from None
    if len(key) != KEY_BYTES:
        raise FleetError(f"data key v{version} of site {site_id!r} has a bad length")
    return key


def new_data_key() -> bytes:
    """A fresh random data key."""
    return os.urandom(KEY_BYTES)


class SiteCipher:
    """Seals and opens one site's templates under one data key version."""

    def __init__(self, site_id: str, version: int, data_key: bytes) -> None:
        self.site_id = site_id
        self.version = int(version)
        context = _CONTEXT_TAG + b"\0" + site_id.encode("utf-8") + b"\0" + str(self.version).encode()
        self._cipher = TemplateCipher(GalleryKey(data_key, f"data key v{version} of {site_id}"), context)

    def seal(self, identity_id: str, template_id: bytes, vector: np.ndarray) -> tuple[bytes, bytes]:
        """``(nonce, ciphertext)`` of one float32 template."""
        return self._cipher.seal(identity_id, template_id, np.ascontiguousarray(vector, "<f4").tobytes())

    def open(self, identity_id: str, template_id: bytes, nonce: bytes, ciphertext: bytes) -> np.ndarray:
        """The float32 template; a modified or moved ciphertext is a :class:`FleetError`."""
        try:
            raw = self._cipher.open(identity_id, bytes(template_id), bytes(nonce), bytes(ciphertext))
        except GalleryError as exc:
            raise FleetError(f"site {self.site_id!r}: {exc}") from None
        return np.frombuffer(raw, "<f4")
