"""SQLite storage of a gallery: identities in clear, templates as AES-GCM ciphertexts.

Every change runs in one ``BEGIN IMMEDIATE`` transaction, so a crash in the middle of an
enrolment leaves the database as it was before it; deleting an identity cascades to its
templates.  The store knows nothing about vectors or keys: it keeps bytes.

* **Rollback journal, not WAL.**  With a write-ahead log the ``.db`` alone is an *older*,
  perfectly consistent gallery, and a damaged WAL frame silently truncates the log at a commit
  boundary — both look like a gallery that never had the lost rows.  A rollback journal only
  ever holds the pages of the transaction in flight, so every acknowledged write is in the
  ``.db`` itself (docs/gallery.md, "Crashes and copies").
* **Row keys are never reused** (``AUTOINCREMENT``): a writer holding an identity's row key can
  never attach templates to someone enrolled after that identity was deleted.
* **A change log** (generation, kind, identity) lets a reader in another process catch up with a
  delta instead of reloading everything; it keeps the newest :data:`LOG_KEEP` rows.
* **Nothing is written before the file is known to be a gallery** (no journal-mode switch), the
  file is created owner-only (0600; SQLite gives its journal the same mode), and every SQLite
  failure — locked past :data:`LOCK_TIMEOUT_S`, damaged pages, a foreign file — is one
  :class:`GalleryError` naming the file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Iterator, Sequence, Tuple

from ..errors import GalleryError

SCHEMA_VERSION = 2
#: Default wait for another process's write lock before giving up with a GalleryError.
LOCK_TIMEOUT_S = 5.0
#: Change-log rows kept; a reader further behind than that reloads everything.
LOG_KEEP = 100_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",  # kept on upgrade
    "CREATE TABLE identities (pk INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL)",
    "CREATE TABLE templates (pk INTEGER PRIMARY KEY AUTOINCREMENT, tid BLOB NOT NULL UNIQUE,"
    " identity_pk INTEGER NOT NULL REFERENCES identities(pk) ON DELETE CASCADE,"
    " nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, created REAL NOT NULL)",
    "CREATE INDEX templates_by_identity ON templates(identity_pk)",
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, generation INTEGER NOT NULL,"
    " kind TEXT NOT NULL, identity_pk INTEGER NOT NULL, identity_id TEXT NOT NULL)",
    "CREATE INDEX changes_by_generation ON changes(generation)",
)
TABLES = frozenset({"meta", "identities", "templates", "changes"})

#: One sealed template ready to store: ``(template_id, nonce, ciphertext)``.
SealedTemplate = Tuple[bytes, bytes, bytes]
#: An identity row as stored (types unchecked): ``(pk, id, name, meta_json, created)``.
IdentityRecord = Tuple[Any, Any, Any, Any, Any]
#: A template row as stored (types unchecked): ``(pk, identity_pk, tid, nonce, ciphertext, created)``.
TemplateRecord = Tuple[Any, Any, Any, Any, Any, Any]


class Locked(GalleryError):
    """Another process held the gallery's lock for longer than the wait allowed."""


def _create_owner_only(path: Path) -> bool:
    try:
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        return False  # another process created it first; it is opened as found
    except OSError as exc:
        raise GalleryError(f"cannot create gallery {str(path)!r}: {exc.strerror or exc}") from exc
    os.close(fd)
    return True


class GalleryStore:
    """The SQLite file of one gallery; safe to share between threads (one connection, one lock).

    Args:
        path: the database file.
        create: create it (owner-only) when it does not exist.
        lock_timeout_s: how long to wait for another process's lock before a :class:`GalleryError`.
    """

    def __init__(self, path: str | Path, create: bool, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.path = str(path)
        self.lock_timeout_s = float(lock_timeout_s)
        self.created = False  # True when this open created the file
        where = Path(self.path)
        if where.is_dir():
            raise GalleryError(f"gallery {self.path!r} is a folder, not a database file")
        if not where.exists():
            if not create:
                raise GalleryError(
                    f"gallery {self.path!r} does not exist (create it with create=True or `biogate enroll`)"
                )
            self.created = _create_owner_only(where)
        try:
            #: An empty file (just created, or left by a first open that died): nothing to lose.
            self.fresh = where.stat().st_size == 0
        except OSError as exc:
            raise GalleryError(f"cannot open gallery {self.path!r}: {exc.strerror or exc}") from exc
        if self.fresh and not create:
            raise GalleryError(f"{self.path!r} is an empty file, not a biogate gallery database")
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per change.
            self._db = sqlite3.connect(
                self.path, timeout=self.lock_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA foreign_keys = ON")  # connection settings: the file is untouched
            self._db.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        self.lock = threading.RLock()

    def close(self) -> None:
        with self.lock:
            self._db.close()

    # -- errors and transactions -----------------------------------------------------------------
    def _error(self, exc: sqlite3.Error) -> GalleryError:
        # SQLite quotes undecodable stored text in its messages; escape it so the error stays one line.
        text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(exc))[:300]
        if "locked" in text or "busy" in text:
            return Locked(
                f"gallery {self.path!r} is locked by another process (gave up after "
                f"{self.lock_timeout_s:g} s); try again when its write has finished"
            )
        if "not a database" in text:
            return GalleryError(f"{self.path!r} is not a biogate gallery database ({text})")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return GalleryError(f"gallery {self.path!r} is damaged: {text}")
        return GalleryError(f"gallery {self.path!r} cannot be used: {text}")

    def _rollback(self) -> None:
        with suppress(sqlite3.Error):  # no transaction left to roll back (SQLite ended it on the error)
            self._db.execute("ROLLBACK")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: committed when the block ends, rolled back on any exception."""
        with self.lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise self._error(exc) from None
            except BaseException:
                self._rollback()
                raise

    @contextmanager
    def read(self, timeout_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries; ``timeout_s`` shortens the lock wait."""
        with self.lock:
            try:
                if timeout_s is not None:
                    self._db.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
                self._db.execute("BEGIN")
                try:
                    yield self._db
                finally:
                    self._rollback()  # nothing was written: ending the snapshot is all it does
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            finally:
                if timeout_s is not None:
                    self._set_timeout()

    def _set_timeout(self) -> None:
        with suppress(sqlite3.Error):
            self._db.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout_s * 1000)}")

    def poll(self) -> int | None:
        """``PRAGMA data_version``: changes when another connection commits; None while locked.

        Never waits: a search thread calls it, and a writer elsewhere must not hold it up.
        """
        with self.lock:
            try:
                self._db.execute("PRAGMA busy_timeout = 0")
                return int(self._db.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                return None
            finally:
                self._set_timeout()

    # -- schema and meta ---------------------------------------------------------------------------
    @staticmethod
    def tables(db: sqlite3.Connection) -> set[str]:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    @staticmethod
    def create_schema(db: sqlite3.Connection) -> None:
        """Create the tables inside an open :meth:`write` of a fresh file."""
        for statement in _SCHEMA:
            db.execute(statement)

    def use_rollback_journal(self) -> None:
        """Journal mode TRUNCATE, for a file known to be a gallery (or new); never called before.

        A rollback journal (never WAL; see the module docstring) that is truncated rather than
        deleted at each commit: as safe as DELETE and three times faster per write here.
        """
        with self.lock:
            try:
                self._db.execute("PRAGMA journal_mode = TRUNCATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def meta(self, db: sqlite3.Connection) -> dict[str, bytes]:
        """Every meta value; one that is not a blob is a damaged or edited file."""
        out = {}
        for key, value in db.execute("SELECT key, value FROM meta"):
            if not isinstance(value, bytes):
                raise GalleryError(
                    f"meta {key!r} of gallery {self.path!r} is stored as {type(value).__name__}, "
                    "not as the blob biogate writes (damaged or edited outside biogate)"
                )
            out[str(key)] = value
        return out

    def meta_value(self, db: sqlite3.Connection, key: str) -> bytes | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is not None and not isinstance(row[0], bytes):
            raise GalleryError(
                f"meta {key!r} of gallery {self.path!r} is stored as {type(row[0]).__name__}, "
                "not as the blob biogate writes (damaged or edited outside biogate)"
            )
        return None if row is None else row[0]

    @staticmethod
    def high_water(db: sqlite3.Connection) -> tuple[int, int]:
        """The highest identity and template row keys ever given out (AUTOINCREMENT's record)."""
        seq = dict(db.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        ipk, tpk = seq.get("identities") or 0, seq.get("templates") or 0
        if not (isinstance(ipk, int) and isinstance(tpk, int)):
            raise GalleryError("the row-key counters of the gallery are not integers (damaged file?)")
        return ipk, tpk

    @staticmethod
    def set_meta(db: sqlite3.Connection, key: str, value: bytes) -> None:
        """Set a meta value inside an open :meth:`write`."""
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- rows ------------------------------------------------------------------------------------
    @staticmethod
    def insert_identity(
        db: sqlite3.Connection, identity_id: str, name: str, meta_json: str, created: float
    ) -> int:
        """Insert one identity inside an open transaction; returns its (never reused) row key."""
        try:
            cur = db.execute(
                "INSERT INTO identities(id, name, meta, created) VALUES (?, ?, ?, ?)",
                (identity_id, name, meta_json, created),
            )
        except sqlite3.IntegrityError:
            raise GalleryError(
                f"identity {identity_id!r} is already enrolled (add templates to it instead)"
            ) from None
        return int(cur.lastrowid)

    @staticmethod
    def identity_pk(db: sqlite3.Connection, identity_id: str) -> int | None:
        row = db.execute("SELECT pk FROM identities WHERE id = ?", (identity_id,)).fetchone()
        return None if row is None else int(row[0])

    def insert_templates(
        self, db: sqlite3.Connection, identity_pk: int, sealed: Sequence[SealedTemplate], created: float
    ) -> None:
        """Insert sealed templates of one identity inside an open transaction."""
        db.executemany(
            "INSERT INTO templates(tid, identity_pk, nonce, ciphertext, created) VALUES (?, ?, ?, ?, ?)",
            [(tid, identity_pk, nonce, ct, created) for tid, nonce, ct in sealed],
        )

    @staticmethod
    def delete_identity(db: sqlite3.Connection, identity_pk: int) -> int | None:
        """Delete an identity and (by cascade) its templates; their count, None if it was not there."""
        count = db.execute("SELECT COUNT(*) FROM templates WHERE identity_pk = ?", (identity_pk,)).fetchone()
        if db.execute("DELETE FROM identities WHERE pk = ?", (identity_pk,)).rowcount != 1:
            return None
        return int(count[0])

    @staticmethod
    def delete_all(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM templates")
        db.execute("DELETE FROM identities")

    @staticmethod
    def identity_rows(db: sqlite3.Connection, after_pk: int = 0) -> list[IdentityRecord]:
        """Identity rows with a row key above ``after_pk`` (all by default), oldest first."""
        sql = "SELECT pk, id, name, meta, created FROM identities WHERE pk > ? ORDER BY pk"
        return db.execute(sql, (after_pk,)).fetchall()

    @staticmethod
    def template_rows(
        db: sqlite3.Connection, after_pk: int = 0, identity_pk: int | None = None
    ) -> list[TemplateRecord]:
        """Template rows above ``after_pk`` (of one identity when given), in insertion order."""
        sql = "SELECT pk, identity_pk, tid, nonce, ciphertext, created FROM templates WHERE pk > ?"
        params: tuple[Any, ...] = (after_pk,)
        if identity_pk is not None:
            sql += " AND identity_pk = ?"
            params += (identity_pk,)
        return db.execute(sql + " ORDER BY pk", params).fetchall()

    # -- the change log ----------------------------------------------------------------------------
    @staticmethod
    def log(db: sqlite3.Connection, generation: int, entries: Sequence[tuple[str, int, str]]) -> None:
        """Record ``(kind, identity_pk, identity_id)`` entries of one writing transaction."""
        db.executemany(
            "INSERT INTO changes(generation, kind, identity_pk, identity_id) VALUES (?, ?, ?, ?)",
            [(generation, kind, pk, ident) for kind, pk, ident in entries],
        )

    @staticmethod
    def prune_log(db: sqlite3.Connection, keep: int | None = None) -> int | None:
        """Drop whole generations beyond the newest ``keep`` rows; the new oldest reachable one."""
        keep = LOG_KEEP if keep is None else keep
        low, high = db.execute("SELECT MIN(seq), MAX(seq) FROM changes").fetchone()
        if low is None or high - low < keep + keep // 10:  # prune in steps, not on every write
            return None
        cut = db.execute("SELECT generation FROM changes WHERE seq <= ? ORDER BY seq DESC", (high - keep,))
        generation = int(cut.fetchone()[0])
        db.execute("DELETE FROM changes WHERE generation <= ?", (generation,))
        return generation

    @staticmethod
    def deleted_since(db: sqlite3.Connection, generation: int) -> list[int]:
        """Row keys of identities deleted after ``generation``."""
        sql = "SELECT identity_pk FROM changes WHERE generation > ? AND kind = 'delete'"
        return [int(r[0]) for r in db.execute(sql, (generation,))]

    @staticmethod
    def enrolled_by_log(db: sqlite3.Connection) -> dict[int, str]:
        """``{row key: id}`` of identities the log saw enrolled and not deleted (to name missing ones)."""
        enrolled: dict[int, str] = {}
        for kind, pk, ident in db.execute("SELECT kind, identity_pk, identity_id FROM changes ORDER BY seq"):
            if kind == "enroll":
                enrolled[pk] = ident
            elif kind == "delete":
                enrolled.pop(pk, None)
        return enrolled
