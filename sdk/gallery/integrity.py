"""What the gallery key vouches for beyond each template: the whole set of rows, and its state.

Per-template AES-GCM (:mod:`biogate.gallery.crypto`) stops a ciphertext from being altered or
moved, but not a row from disappearing, nor a name, metadata or the decision threshold from
being edited.  So every writing transaction also stores one sealed **state record**:

* ``generation`` — bumped by every writing transaction (the change counter a live kiosk watches);
* ``identities``, ``templates`` — how many rows of each there are;
* ``digest`` — Σ F(row) mod 2²⁵⁶ over every identity row and template row, with F a keyed
  HMAC-SHA-256 (key derived from the gallery key and the gallery uuid);
* ``dim``, ``threshold`` (the live decision threshold), ``last_change_id`` (fleet sync),
  ``log_from`` (the oldest generation the change log still reaches back to) and the SHA-256 of
  the cancelable-transform parameters.

The record is AES-GCM sealed like a template, so it can be neither forged nor read: the digest
and every F value stay secret.  A write adds or subtracts the F of the rows it touches — it never
rehashes the gallery — and an open recomputes the sum over what is there.  Why this is sound,
and why the digest must stay secret (a public sum of HMACs falls to Wagner's generalised
birthday attack), is argued in ``docs/gallery.md`` ("Integrity of the set").
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from typing import NamedTuple

from ..errors import GalleryError
from .crypto import GalleryKey, TemplateCipher

MOD = 1 << 256
_STATE_VERSION = 1
# version, generation, identities, templates, digest, dim (0: none), threshold (NaN: none),
# last_change_id (-1: none), log_from, SHA-256 of the cancelable-transform parameters (zeros: none)
_STATE = struct.Struct(">BQQQ32sIdqQ32s")
_STATE_TID = b"state"  # the sealed record's "template id" in its associated data


class GalleryState(NamedTuple):
    """The authenticated state of a gallery at one generation."""

    generation: int = 0
    identities: int = 0
    templates: int = 0
    digest: int = 0
    dim: int | None = None
    threshold: float | None = None
    last_change_id: int | None = None
    log_from: int = 0
    transform_sha256: bytes = bytes(32)


def params_sha256(params: bytes | None) -> bytes:
    """What the state records of the cancelable-transform parameters (zeros: none)."""
    return bytes(32) if params is None else hashlib.sha256(params).digest()


def seal_state(cipher: TemplateCipher, state: GalleryState) -> bytes:
    """The state as stored: ``nonce || AES-GCM(plaintext)``, bound to this gallery."""
    plain = _STATE.pack(
        _STATE_VERSION,
        state.generation,
        state.identities,
        state.templates,
        state.digest.to_bytes(32, "big"),
        state.dim or 0,
        math.nan if state.threshold is None else state.threshold,
        -1 if state.last_change_id is None else state.last_change_id,
        state.log_from,
        state.transform_sha256,
    )
    nonce, sealed = cipher.seal("", _STATE_TID, plain)
    return nonce + sealed


def open_state(cipher: TemplateCipher, record: bytes, where: str) -> GalleryState:
    """Decrypt and check a stored state record; anything else is one :class:`GalleryError`."""
    plain = cipher.open_record(record, _STATE_TID)
    if plain is None or len(plain) != _STATE.size or plain[0] != _STATE_VERSION:
        raise GalleryError(
            f"the state record of gallery {where!r} failed authentication (damaged or edited file)"
        )
    _, gen, n_ids, n_tpl, digest, dim, thr, change_id, log_from, transform = _STATE.unpack(plain)
    return GalleryState(
        gen,
        n_ids,
        n_tpl,
        int.from_bytes(digest, "big"),
        dim or None,
        None if math.isnan(thr) else thr,
        None if change_id < 0 else change_id,
        log_from,
        transform,
    )


_ROW = struct.Struct(">cqIIId")  # tag, (identity) row key, three field lengths, created


class RowDigest:
    """F(row): the keyed per-row values whose sum mod 2²⁵⁶ is a gallery's digest.

    Every field is length-prefixed and each kind of row has its own tag, so no two distinct
    rows encode alike.  An identity row includes its row key (never reused), which its
    templates name; a template row includes its random 128-bit template id.
    """

    def __init__(self, key: GalleryKey, gallery_uuid: bytes) -> None:
        self._key = hmac.digest(key.secret, b"biogate.gallery/integrity/1" + bytes(gallery_uuid), "sha256")

    def _f(self, message: bytes) -> int:
        return int.from_bytes(hmac.digest(self._key, message, hashlib.sha256), "big")

    def identity(self, pk: int, identity_id: str, name: str, meta_json: str, created: float) -> int:
        ident = identity_id.encode("utf-8", "surrogatepass")
        label = name.encode("utf-8", "surrogatepass")
        meta = meta_json.encode("utf-8", "surrogatepass")
        head = _ROW.pack(b"I", pk, len(ident), len(label), len(meta), created)
        return self._f(b"".join((head, ident, label, meta)))

    def template(self, identity_pk: int, tid: bytes, nonce: bytes, ciphertext: bytes, created: float) -> int:
        head = _ROW.pack(b"T", identity_pk, len(tid), len(nonce), len(ciphertext), created)
        return self._f(b"".join((head, tid, nonce, ciphertext)))
