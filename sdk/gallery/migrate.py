"""Upgrade a schema-1 gallery (biogate before integrity records) to schema 2, in place, atomically.

Schema 1 had reusable row keys, no state record, no change log and ran in WAL mode.  The
upgrade checks the key and decrypts every template first (nothing is trusted that does not
authenticate), then rebuilds the tables with ``AUTOINCREMENT`` keys in ONE transaction, seals
the first state record over what is there, and switches the file to a rollback journal.

It vouches for the gallery *as it is found*: rows lost before the upgrade cannot be known.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import GalleryError
from .crypto import GalleryKey, TemplateCipher, check_key_location
from .integrity import MOD, GalleryState, RowDigest, params_sha256, seal_state
from .store import LOCK_TIMEOUT_S, SCHEMA_VERSION, GalleryStore

_COPY = (
    "ALTER TABLE templates RENAME TO templates_v1",
    "ALTER TABLE identities RENAME TO identities_v1",
    "DROP INDEX IF EXISTS templates_by_identity",
)
_FILL = (
    "INSERT INTO identities(pk, id, name, meta, created)"
    " SELECT pk, id, name, meta, created FROM identities_v1",
    "INSERT INTO templates(pk, tid, identity_pk, nonce, ciphertext, created)"
    " SELECT pk, tid, identity_pk, nonce, ciphertext, created FROM templates_v1",
    "DROP TABLE templates_v1",
    "DROP TABLE identities_v1",
)


def upgrade(path: str | Path, key: GalleryKey, lock_timeout_s: float = LOCK_TIMEOUT_S) -> GalleryState:
    """Upgrade the schema-1 gallery at ``path``; returns its first authenticated state."""
    path = str(path)
    check_key_location(key, path)
    store = GalleryStore(path, False, lock_timeout_s)
    try:
        with store.write() as db:
            meta = store.meta(db) if "meta" in store.tables(db) else {}
            if meta.get("schema") != b"1" or not {"identities", "templates"} <= store.tables(db):
                raise GalleryError(
                    f"{path!r} is not a schema-1 biogate gallery (schema {meta.get('schema')!r})"
                )
            uuid = meta.get("uuid") or b""
            cipher = TemplateCipher(key, uuid)
            cipher.verify_key_check(meta.get("key_check") or b"", path)
            digest = RowDigest(key, uuid)
            try:
                dim = None if meta.get("dim") is None else int(meta["dim"].decode("ascii"))
                people, rows, total = _verify(db, cipher, digest, path)
            except (TypeError, ValueError, AttributeError, UnicodeError):
                raise GalleryError(
                    f"a row of gallery {path!r} has a field of the wrong type: not upgraded"
                ) from None
            for statement in _COPY:
                db.execute(statement)
            store.create_schema(db)
            for statement in _FILL:
                db.execute(statement)
            params = meta.get("transform")
            state = GalleryState(
                generation=1,
                identities=len(people),
                templates=len(rows),
                digest=total % MOD,
                dim=dim,
                transform_sha256=params_sha256(params),
            )
            store.log(db, 1, [("enroll", pk, ident) for pk, ident in people.items()])
            store.set_meta(db, "schema", str(SCHEMA_VERSION).encode())
            store.set_meta(db, "state", seal_state(cipher, state))
        store.use_rollback_journal()  # out of WAL, now that it is a schema-2 gallery
        return state
    finally:
        store.close()


def _verify(db: Any, cipher: TemplateCipher, digest: RowDigest, path: str) -> tuple:
    """Decrypt every template of a schema-1 gallery; ``({pk: id}, template rows, digest sum)``."""
    people = {}
    total = 0
    for pk, ident, name, meta_json, created in db.execute(
        "SELECT pk, id, name, meta, created FROM identities"
    ):
        json.loads(meta_json)
        people[pk] = ident
        total += digest.identity(pk, ident, name, meta_json, float(created))
    rows = db.execute("SELECT identity_pk, tid, nonce, ciphertext, created FROM templates").fetchall()
    for owner, tid, nonce, ct, created in rows:
        if owner not in people:
            raise GalleryError(f"a template of gallery {path!r} belongs to no identity: not upgraded")
        cipher.open(people[owner], tid, nonce, ct)  # names the row that fails
        total += digest.template(owner, tid, nonce, ct, float(created))
    return people, rows, total
