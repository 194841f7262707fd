"""Upgrading a schema-1 gallery (biogate before integrity records): refused until upgraded, then whole."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from biogate.cli.main import main
from biogate.errors import GalleryError
from biogate.gallery import Gallery, GalleryKey
from biogate.gallery.crypto import TemplateCipher
from biogate.gallery.migrate import upgrade

DIM = 16
# The schema biogate wrote before issue #16 (row keys reused, WAL, no state record).
SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE identities (pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
                         meta TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL);
CREATE TABLE templates (pk INTEGER PRIMARY KEY, tid BLOB NOT NULL UNIQUE,
                        identity_pk INTEGER NOT NULL REFERENCES identities(pk) ON DELETE CASCADE,
                        nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, created REAL NOT NULL);
CREATE INDEX templates_by_identity ON templates(identity_pk);
"""


def _schema_1(db: Path, key: GalleryKey, people: dict) -> None:
    uuid = os.urandom(16)
    cipher = TemplateCipher(key, uuid)
    con = sqlite3.connect(str(db))
    con.execute("PRAGMA journal_mode = WAL")
    con.executescript(SCHEMA_1)
    for k, v in (("schema", b"1"), ("uuid", uuid), ("key_check", cipher.key_check()), ("dim", b"16")):
        con.execute("INSERT INTO meta VALUES (?, ?)", (k, v))
    for pk, (ident, rows) in enumerate(people.items(), start=1):
        con.execute("INSERT INTO identities VALUES (?, ?, ?, '{\"n\": 1}', 1.5)", (pk, ident, ident.title()))
        for row in rows:
            tid = os.urandom(16)
            nonce, ct = cipher.seal(ident, tid, row.astype("<f4").tobytes())
            sql = (
                "INSERT INTO templates(tid, identity_pk, nonce, ciphertext, created) VALUES (?, ?, ?, ?, 2.5)"
            )
            con.execute(sql, (tid, pk, nonce, ct))
    con.commit()
    con.close()


def test_schema_1_is_refused_untouched_then_upgraded_whole(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "keys").mkdir()
    db = tmp_path / "data" / "old.db"
    key_path = GalleryKey.generate().write(tmp_path / "keys" / "g.key")
    key = GalleryKey.from_file(key_path)
    rng = np.random.default_rng(0)
    people = {name: rng.standard_normal((2, DIM)).astype(np.float32) for name in ("ada", "bob", "cy")}
    _schema_1(db, key, people)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(GalleryError, match="gallery upgrade"):
        Gallery(db, key)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    with pytest.raises(GalleryError, match="wrong key"):
        upgrade(db, GalleryKey.generate())
    assert main(["gallery", "upgrade", "--gallery", str(db), "--key-file", str(key_path)]) == 0
    with Gallery(db, key) as gallery:
        assert sorted(i.id for i in gallery.identities()) == ["ada", "bob", "cy"]
        assert gallery.get("bob").meta == {"n": 1} and gallery.dim == DIM
        for name, rows in people.items():
            np.testing.assert_array_equal(gallery.templates(name), rows)
            assert gallery.search(rows[1])[0].identity_id == name
        gallery.delete("cy")  # the newest row: its key must not come back
        gallery.enroll("dee", "Dee", rng.standard_normal(DIM))
    con = sqlite3.connect(str(db))
    assert con.execute("SELECT pk FROM identities WHERE id = 'dee'").fetchone()[0] == 4
    assert con.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    con.close()
    with pytest.raises(GalleryError, match="not a schema-1"):
        upgrade(db, key)
