"""The kiosk's local fleet state: sync progress and the audit spool, in one SQLite file.

The spool is how every decision record reaches the server exactly once.  A record is
committed here (``synchronous = FULL``) with its event id before anything else happens to it;
the uploader sends pending records, and marks them sent only after the server committed them.
A crash between the two re-sends them, and the server keeps one row per ``(kiosk, event id)``.
Sent records are kept ``keep_sent_s`` (the local proof of what was delivered), then pruned.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import FleetError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sync (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spool (
    seq       INTEGER PRIMARY KEY,
    event_id  TEXT NOT NULL UNIQUE,
    created   REAL NOT NULL,
    record    TEXT NOT NULL,
    sent      REAL
);
CREATE INDEX IF NOT EXISTS spool_pending ON spool(sent, seq);
"""


class FleetState:
    """Sync state (``change_id``, ``site``, ``confirmed`` time, ...) and the audit spool of a kiosk."""

    def __init__(self, path: str | Path, keep_sent_s: float = 7 * 86400.0) -> None:
        self.path = str(path)
        self.keep_sent_s = keep_sent_s
        self.wakeup = threading.Event()  # set when a record is spooled
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise FleetError(f"fleet state file {self.path!r} cannot be opened: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- sync progress ----------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM sync WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, **values: Any) -> None:
        """Set sync values atomically (``None`` deletes a key)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for key, value in values.items():
                    if value is None:
                        self._db.execute("DELETE FROM sync WHERE key = ?", (key,))
                    else:
                        self._db.execute("INSERT OR REPLACE INTO sync VALUES (?, ?)", (key, str(value)))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @property
    def change_id(self) -> int | None:
        """The change id the local gallery is complete to (``None``: no full sync finished yet)."""
        value = self.get("change_id")
        return None if value is None else int(value)

    @property
    def confirmed(self) -> float | None:
        """Wall-clock time the server last confirmed the gallery was current (survives restarts)."""
        value = self.get("confirmed")
        return None if value is None else float(value)

    # -- audit spool ------------------------------------------------------------------------------
    def spool(self, record: dict[str, Any]) -> None:
        """Commit one audit record (it must carry ``event_id``); a repeated id is kept once."""
        event_id = record.get("event_id")
        if not event_id:
            raise FleetError("an audit record for the fleet needs an event_id")
        text = json.dumps(record, ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO spool(event_id, created, record) VALUES (?, ?, ?)",
                (str(event_id), time.time(), text),
            )
        self.wakeup.set()

    def pending(self, limit: int = 500) -> list[tuple[int, str, dict[str, Any]]]:
        """The oldest unsent records: ``(seq, event_id, record)``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, record FROM spool WHERE sent IS NULL ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [(int(r[0]), str(r[1]), json.loads(r[2])) for r in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        """Mark records the server has committed; prunes sent records older than ``keep_sent_s``."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("UPDATE spool SET sent = ? WHERE seq = ?", [(now, s) for s in seqs])
            self._db.execute(
                "DELETE FROM spool WHERE sent IS NOT NULL AND sent < ?", (now - self.keep_sent_s,)
            )
            self._db.execute("COMMIT")

    def depth(self) -> int:
        """How many records wait for upload."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool WHERE sent IS NULL").fetchone()[0])

    def event_ids(self) -> list[str]:
        """Every event id still in the spool, sent or not (what the benchmark checks against)."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT event_id FROM spool ORDER BY seq")]
