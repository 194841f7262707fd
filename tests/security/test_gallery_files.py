"""Issue #16 findings 6 and 7 (gallery files): a foreign file is left alone, a lock is one clear error.

Each test fails on the main of the finding and passes now.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from biogate.errors import GalleryError
from biogate.gallery import Gallery, GalleryKey

from .gallery_helpers import Worker, cli, gallery_path, key_file, templates


def _folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_foreign_sqlite_file_is_refused_and_left_byte_for_byte(tmp_path: Path, journal: str) -> None:
    kf = key_file(tmp_path)
    key = GalleryKey.from_file(kf)
    foreign = gallery_path(tmp_path, "payroll.db")
    con = sqlite3.connect(str(foreign))
    con.execute(f"PRAGMA journal_mode = {journal}")
    con.execute("CREATE TABLE staff (name TEXT, salary INTEGER)")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")  # looks a little like ours
    con.execute("INSERT INTO staff VALUES ('Ada', 100)")
    con.commit()
    con.close()
    before = _folder_state(foreign.parent)
    for create in (False, True):
        with pytest.raises(GalleryError, match="not a biogate gallery"):
            Gallery(foreign, key, create=create)
    result = cli("gallery", "list", "--gallery", str(foreign), "--key-file", str(kf))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    np.save(tmp_path / "ada.npy", templates(1, 1))
    enrol = cli(
        "enroll", "--gallery", str(foreign), "--key-file", str(kf), "--id", "ada", "--name", "Ada",
        "--embeddings", str(tmp_path / "ada.npy"),
    )  # fmt: skip
    assert enrol.returncode == 2 and "not a biogate gallery" in enrol.stderr
    assert _folder_state(foreign.parent) == before  # same bytes, no journal mode switched, no side files


def test_locked_gallery_is_one_error_line_and_exit_2_after_a_bounded_wait(tmp_path: Path) -> None:
    db, kf = gallery_path(tmp_path), key_file(tmp_path)
    key = GalleryKey.from_file(kf)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("ada", "Ada", templates(1, 1))
    holder = Worker(
        f"""
import sqlite3, sys
con = sqlite3.connect({str(db)!r}, isolation_level=None)
con.execute("BEGIN IMMEDIATE")  # another process holds the write lock (a long enrolment, say)
print("locked")
sys.stdin.readline()
con.execute("ROLLBACK")
"""
    )
    try:
        holder.expect("locked")
        np.save(tmp_path / "bob.npy", templates(2, 1))
        result = cli(
            "enroll", "--gallery", str(db), "--key-file", str(kf), "--id", "bob", "--name", "Bob",
            "--embeddings", str(tmp_path / "bob.npy"), "--lock-timeout", "0.5",
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "is locked by another process" in result.stderr and "0.5 s" in result.stderr
        with Gallery(db, key, lock_timeout_s=0.2) as gallery:  # reading is not blocked
            assert "ada" in gallery
            with pytest.raises(GalleryError, match="locked"):
                gallery.delete("ada")
    finally:
        holder.send("done")
        holder.close()
    with Gallery(db, key) as gallery:  # nothing was half-written
        assert [i.id for i in gallery.identities()] == ["ada"]
