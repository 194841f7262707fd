"""Issue #16 findings 6 and 7 (gallery): stale writers, lost or edited rows, damaged files.

Each test fails on the main of the finding (schema 1: reusable row keys, WAL, no state record)
and passes now.  Other processes are real processes; damage is done to real SQLite files.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from biogate.errors import GalleryError
from biogate.gallery import Gallery, GalleryKey

from .gallery_helpers import DEADLINE_S, DIM, Worker, cli, flip_byte, gallery_path, key_file, templates

HEAD = """
import sys
import numpy as np
from biogate.gallery import Gallery, GalleryKey
key = GalleryKey.from_file({key!r})
"""


def _ids(db: Path, key: GalleryKey) -> set[str]:
    with Gallery(db, key) as gallery:
        return {i.id for i in gallery.identities()}


def test_stale_writer_is_refused_naming_the_identity_and_row_keys_are_never_reused(tmp_path: Path) -> None:
    db, kf = gallery_path(tmp_path), key_file(tmp_path)
    key = GalleryKey.from_file(kf)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("ALICE", "Alice", templates(1, 1))
        gallery.enroll("BOB", "Bob", templates(2, 1))  # the newest row: schema 1 gave its key out again
    con = sqlite3.connect(str(db))
    bob_pk = con.execute("SELECT pk FROM identities WHERE id = 'BOB'").fetchone()[0]
    con.close()
    holder = Worker(
        HEAD.format(key=str(kf))
        + f"""
g = Gallery({str(db)!r}, key)
assert "BOB" in g
print("holding BOB")
sys.stdin.readline()
try:
    print("added", g.add_templates("BOB", np.ones({DIM})))
except Exception as exc:
    print("refused", type(exc).__name__, exc)
g.close()
"""
    )
    try:
        holder.expect("holding")
        # Meanwhile another process deletes BOB and enrols MALLORY.
        base = ["--gallery", str(db), "--key-file", str(kf)]
        assert cli("gallery", "delete", *base, "--id", "BOB").returncode == 0
        np.save(tmp_path / "mallory.npy", templates(3, 1))
        enrol = cli(
            "enroll", *base, "--id", "MALLORY", "--name", "M", "--embeddings", str(tmp_path / "mallory.npy")
        )
        assert enrol.returncode == 0, enrol.stderr
        holder.send("go")
        answer = holder.expect("")
    finally:
        holder.close()
    assert answer.startswith("refused GalleryError") and "'BOB'" in answer, answer
    with Gallery(db, key) as gallery:  # still opens, and MALLORY holds only his own template
        assert sorted(i.id for i in gallery.identities()) == ["ALICE", "MALLORY"]
        assert gallery.get("MALLORY").n_templates == 1
        np.testing.assert_array_equal(gallery.templates("MALLORY"), templates(3, 1))
    con = sqlite3.connect(str(db))
    mallory_pk = con.execute("SELECT pk FROM identities WHERE id = 'MALLORY'").fetchone()[0]
    con.close()
    assert mallory_pk > bob_pk  # a row key is never given out twice


def _side_files(db: Path) -> list[Path]:
    return [p for p in (Path(f"{db}-wal"), Path(f"{db}-journal")) if p.exists() and p.stat().st_size > 0]


def _crash_writer(tmp_path: Path, name: str, in_bulk: bool) -> tuple[Path, Path, list[str]]:
    """Enrol 60 identities one by one in another process and kill -9 it: right after the 60th
    was acknowledged, or (``in_bulk``) while a long transaction is writing its log."""
    db, kf = gallery_path(tmp_path, name), key_file(tmp_path)
    writer = Worker(
        HEAD.format(key=str(kf))
        + f"""
g = Gallery({str(db)!r}, key, create=True)
rng = np.random.default_rng(0)
for i in range(60):
    g.enroll(f"P{{i}}", "x", rng.standard_normal({DIM}))
    print("ok", f"P{{i}}")
if {in_bulk!r}:
    print("bulk")
    g.enroll_many((f"Q{{i}}", "q", rng.standard_normal({DIM})) for i in range(20000))
sys.stdin.readline()
"""
    )
    try:
        acknowledged = [writer.expect("ok ").split()[1] for _ in range(60)]
        if in_bulk:
            writer.expect("bulk")
            end = time.monotonic() + DEADLINE_S
            while not _side_files(db) and writer.proc.poll() is None and time.monotonic() < end:
                time.sleep(0.001)  # polling a condition (the log holds pages), not a timed wait
    finally:
        writer.kill()  # SIGKILL (kill -9): no cleanup, no rollback
    return db, kf, acknowledged


def test_kill_9_and_a_damaged_log_never_lose_acknowledged_identities_silently(tmp_path: Path) -> None:
    for name, in_bulk in (("idle.db", False), ("bulk.db", True)):
        db, kf, acknowledged = _crash_writer(tmp_path, name, in_bulk)
        for side in _side_files(db):  # whichever log the crash left behind: one byte flipped
            flip_byte(side, side.stat().st_size // 2)
        try:
            present = _ids(db, GalleryKey.from_file(kf))
        except GalleryError:
            continue  # reported, never opened short
        missing = set(acknowledged) - present
        assert not missing, f"{name}: {len(missing)} acknowledged identities silently lost"


def test_a_copy_of_the_db_file_alone_holds_every_acknowledged_identity(tmp_path: Path) -> None:
    db, kf = gallery_path(tmp_path), key_file(tmp_path)
    key = GalleryKey.from_file(kf)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll_many([(f"A{i}", "a", templates(i, 1)) for i in range(20)])
    writer = Worker(
        HEAD.format(key=str(kf))
        + f"""
g = Gallery({str(db)!r}, key)
for i in range(30):
    g.enroll(f"B{{i}}", "b", np.random.default_rng(i).standard_normal({DIM}))
print("enrolled")
sys.stdin.readline()
g.close()
"""
    )
    try:
        writer.expect("enrolled")
        (tmp_path / "copy").mkdir()
        copy = tmp_path / "copy" / "faces.db"
        shutil.copyfile(db, copy)  # the .db only, while the writer still has it open
        writer.send("quit")
    finally:
        writer.close()
    try:
        present = _ids(copy, key)
    except GalleryError:
        return  # reported, never opened short
    assert present == {f"A{i}" for i in range(20)} | {f"B{i}" for i in range(30)}


def _small_gallery(tmp_path: Path) -> tuple[Path, GalleryKey, dict]:
    db, key = gallery_path(tmp_path), GalleryKey.from_file(key_file(tmp_path))
    people = {f"P{i}": (f"Person {i}", {"badge": i}, templates(i, 2)) for i in range(12)}
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll_many([(ident, name, t, meta) for ident, (name, meta, t) in people.items()])
    return db, key, people


def test_random_byte_flips_are_one_gallery_error_or_nothing_changed(tmp_path: Path) -> None:
    db, key, people = _small_gallery(tmp_path)
    original = db.read_bytes()
    (tmp_path / "flipped").mkdir()
    copy = tmp_path / "flipped" / "faces.db"
    refused = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        data = bytearray(original)
        for pos in rng.integers(len(data), size=4).tolist():
            data[pos] ^= 1 << int(rng.integers(8))
        for side in copy.parent.iterdir():
            side.unlink()
        copy.write_bytes(bytes(data))
        try:
            with Gallery(copy, key) as gallery:
                found = {i.id: (i.name, i.meta) for i in gallery.identities()}
                assert found == {ident: (name, meta) for ident, (name, meta, _) in people.items()}, seed
                for ident, (_, _, temps) in people.items():
                    np.testing.assert_array_equal(gallery.templates(ident), temps)
                    assert gallery.search(temps[0])[0].identity_id == ident
        except GalleryError as exc:
            assert "\n" not in str(exc)
            refused += 1
    assert refused > 0  # the flips did hit the rows


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("UPDATE meta SET value = CAST(value AS TEXT) WHERE key = 'dim'", "'dim'"),
        ("UPDATE identities SET meta = '{\"badge\": 3' WHERE id = 'P3'", "'P3'"),
    ],
    ids=["meta.dim stored as text", "identity meta not JSON"],
)
def test_damaged_meta_is_one_error_line_and_exit_2(tmp_path: Path, damage: str, named: str) -> None:
    db, key, _ = _small_gallery(tmp_path)
    con = sqlite3.connect(str(db))
    con.execute(damage)
    con.commit()
    con.close()
    with pytest.raises(GalleryError, match=named), Gallery(db, key) as gallery:
        gallery.identities()
    kf = tmp_path / "keys" / "raw.key"
    kf.write_text(key.secret.hex())
    kf.chmod(0o600)
    result = cli("gallery", "list", "--gallery", str(db), "--key-file", str(kf))
    assert result.returncode == 2 and named in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ("DELETE FROM identities WHERE id = 'P7'", "missing: 'P7'"),
        ("UPDATE identities SET name = 'Mallory' WHERE id = 'P2'", "changed outside biogate"),
        ("UPDATE identities SET meta = '{\"badge\": 99}' WHERE id = 'P2'", "changed outside biogate"),
    ],
    ids=["row deleted", "name edited", "meta edited"],
)
def test_rows_removed_or_edited_outside_biogate_are_refused(tmp_path: Path, edit: str, named: str) -> None:
    db, key, _ = _small_gallery(tmp_path)
    con = sqlite3.connect(str(db))
    con.execute("PRAGMA foreign_keys = ON")  # the deletion takes P7's templates with it
    con.execute(edit)
    con.commit()
    con.close()
    with pytest.raises(GalleryError, match=named):
        Gallery(db, key)


def test_undecodable_stored_text_is_reported_on_one_line(tmp_path: Path) -> None:
    """SQLite quotes the raw bytes of undecodable text in its error; a newline among them must not
    reach the message (the CLI's one-line error) — found by the random byte-flip test."""
    db, key, _ = _small_gallery(tmp_path)
    with sqlite3.connect(db) as con:  # a name that is not UTF-8 and holds a raw newline
        con.execute("UPDATE identities SET name = CAST(X'41ff0a42' AS TEXT) WHERE id = 'P3'")
    with pytest.raises(GalleryError) as info, Gallery(db, key) as gallery:
        gallery.identities()
    assert "\n" not in str(info.value) and "name" in str(info.value)
