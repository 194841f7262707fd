"""SQLite storage of a gallery: identities in clear, templates as AES-GCM ciphertexts.

Every change runs in one ``BEGIN IMMEDIATE`` transaction, so a crash in the middle of an
enrolment leaves the database as it was before it; deleting an identity cascades to its
templates.  The store knows nothing about vectors or keys: it keeps bytes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence, Tuple

from ..errors import GalleryError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    pk       INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    name     TEXT NOT NULL,
    meta     TEXT NOT NULL DEFAULT '{}',
    created  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS templates (
    pk           INTEGER PRIMARY KEY,
    tid          BLOB NOT NULL UNIQUE,
    identity_pk  INTEGER NOT NULL REFERENCES identities(pk) ON DELETE CASCADE,
    nonce        BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    created      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS templates_by_identity ON templates(identity_pk);
"""

#: One sealed template ready to store: ``(template_id, nonce, ciphertext)``.
SealedTemplate = Tuple[bytes, bytes, bytes]


class IdentityRow:
    """One identity as stored: its row key, external id, name, metadata and template count."""

    __slots__ = ("created", "id", "meta", "n_templates", "name", "pk")

    def __init__(
        self, pk: int, id: str, name: str, meta: dict[str, Any], created: float, n_templates: int
    ) -> None:
        self.pk = pk
        self.id = id
        self.name = name
        self.meta = meta
        self.created = created
        self.n_templates = n_templates


class GalleryStore:
    """The SQLite file of one gallery; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: str | Path, create: bool) -> None:
        self.path = str(path)
        exists = Path(self.path).exists()
        if not exists and not create:
            raise GalleryError(
                f"gallery {self.path!r} does not exist (create it with create=True or `biogate enroll`)"
            )
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per change.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            if not exists:
                self._db.executescript(_SCHEMA)
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.path!r} is not a biogate gallery database: {exc}") from exc
        if not {"meta", "identities", "templates"} <= tables:
            raise GalleryError(f"{self.path!r} is not a biogate gallery database (tables missing)")
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: committed when the block ends, rolled back on any exception."""
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> bytes | None:
        with self.lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, db: sqlite3.Connection, key: str, value: bytes) -> None:
        """Set a meta value inside an open :meth:`transaction`."""
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- identities -----------------------------------------------------------------------------
    def insert_identity(
        self, db: sqlite3.Connection, identity_id: str, name: str, meta: dict[str, Any], created: float
    ) -> int:
        """Insert one identity inside an open transaction; returns its row key."""
        try:
            cur = db.execute(
                "INSERT INTO identities(id, name, meta, created) VALUES (?, ?, ?, ?)",
                (identity_id, name, json.dumps(meta, sort_keys=True), created),
            )
        except sqlite3.IntegrityError:
            raise GalleryError(
                f"identity {identity_id!r} is already enrolled (add templates to it instead)"
            ) from None
        return int(cur.lastrowid)

    def insert_templates(
        self, db: sqlite3.Connection, identity_pk: int, sealed: Sequence[SealedTemplate], created: float
    ) -> None:
        """Insert sealed templates of one identity inside an open transaction."""
        db.executemany(
            "INSERT INTO templates(tid, identity_pk, nonce, ciphertext, created) VALUES (?, ?, ?, ?, ?)",
            [(tid, identity_pk, nonce, ct, created) for tid, nonce, ct in sealed],
        )

    def delete_identity(self, db: sqlite3.Connection, identity_pk: int) -> int:
        """Delete an identity and (by cascade) its templates; returns how many templates went."""
        count = db.execute("SELECT COUNT(*) FROM templates WHERE identity_pk = ?", (identity_pk,)).fetchone()[
            0
        ]
        db.execute("DELETE FROM identities WHERE pk = ?", (identity_pk,))
        return int(count)

    def names(self) -> list[tuple[int, str, str]]:
        """``(row key, id, name)`` of every identity: what the search index needs, cheaply."""
        with self.lock:
            return self._db.execute("SELECT pk, id, name FROM identities ORDER BY pk").fetchall()

    def identity(self, identity_id: str) -> IdentityRow | None:
        rows = self._identities("WHERE i.id = ?", (identity_id,))
        return rows[0] if rows else None

    def identities(self) -> list[IdentityRow]:
        return self._identities("", ())

    def _identities(self, where: str, params: tuple[Any, ...]) -> list[IdentityRow]:
        sql = (
            "SELECT i.pk, i.id, i.name, i.meta, i.created, COUNT(t.pk) FROM identities i "
            f"LEFT JOIN templates t ON t.identity_pk = i.pk {where} GROUP BY i.pk ORDER BY i.pk"
        )
        with self.lock:
            rows = self._db.execute(sql, params).fetchall()
        return [IdentityRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    # -- templates ------------------------------------------------------------------------------
    def templates(self, identity_pk: int | None = None) -> list[tuple[int, str, bytes, bytes, bytes]]:
        """``(identity_pk, identity_id, tid, nonce, ciphertext)`` rows, in insertion order."""
        sql = (
            "SELECT t.identity_pk, i.id, t.tid, t.nonce, t.ciphertext FROM templates t "
            "JOIN identities i ON i.pk = t.identity_pk"
        )
        params: tuple[Any, ...] = ()
        if identity_pk is not None:
            sql += " WHERE t.identity_pk = ?"
            params = (identity_pk,)
        with self.lock:
            rows = self._db.execute(sql + " ORDER BY t.pk", params).fetchall()
        return [(r[0], r[1], bytes(r[2]), bytes(r[3]), bytes(r[4])) for r in rows]
