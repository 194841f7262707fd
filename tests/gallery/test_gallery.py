"""The encrypted gallery: storage at rest, tampering, keys, atomicity, concurrency, bad input."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from biogate.errors import GalleryError
from biogate.gallery import Enrollment, Gallery, GalleryKey, threshold_from_manifest

DIM = 128


def _templates(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    return rng.standard_normal((n, dim)).astype(np.float32)


@pytest.fixture()
def key() -> GalleryKey:
    return GalleryKey.generate()


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data" / "faces.db"


def _all_bytes(folder: Path) -> bytes:
    # The database and its WAL/SHM side files: a template must be in none of them.
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


def test_file_holds_no_template_bytes_in_clear(db: Path, key: GalleryKey) -> None:
    rng = np.random.default_rng(1)
    enrolled = {f"P{i}": _templates(rng, 3) for i in range(5)}
    with Gallery(db, key, create=True) as gallery:
        for ident, temps in enrolled.items():
            gallery.enroll(ident, f"name {ident}", temps)
        on_disk = _all_bytes(db.parent)  # while open: the WAL holds the fresh pages
    on_disk += _all_bytes(db.parent)
    assert b"name P3" in on_disk  # sanity: the scan does see what is stored in clear
    for temps in enrolled.values():
        for row in temps:
            unit = row / np.linalg.norm(row)
            for form in (row.astype("<f4"), unit.astype("<f4"), row.astype("<f8"), unit.astype("<f8")):
                blob = form.tobytes()
                # Any 8 consecutive bytes of a template would betray it; none may appear.
                for start in range(0, len(blob) - 8, 8):
                    assert blob[start : start + 8] not in on_disk


def test_reopen_restores_the_same_answers(db: Path, key: GalleryKey) -> None:
    rng = np.random.default_rng(2)
    temps = _templates(rng, 40)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll_many([Enrollment(f"P{i}", f"N{i}", temps[i], {"i": i}) for i in range(40)])
        before = [gallery.search(t, k=3) for t in temps[:5]]
    with Gallery(db, key) as gallery:
        assert gallery.dim == DIM and len(gallery) == 40 and gallery.n_templates == 40
        assert gallery.get("P7").meta == {"i": 7}
        after = [gallery.search(t, k=3) for t in temps[:5]]
        np.testing.assert_array_equal(gallery.templates("P3"), temps[3:4])
    assert before == after
    assert [m[0].identity_id for m in after] == ["P0", "P1", "P2", "P3", "P4"]


def _raw_rows(db: Path):
    con = sqlite3.connect(str(db))
    return con, con.execute("SELECT pk, identity_pk, nonce, ciphertext FROM templates ORDER BY pk").fetchall()


def test_modified_ciphertext_is_rejected(db: Path, key: GalleryKey) -> None:
    rng = np.random.default_rng(3)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("alice", "Alice", _templates(rng, 2))
    con, rows = _raw_rows(db)
    pk, _, _, ct = rows[1]
    flipped = bytearray(ct)
    flipped[10] ^= 0x01
    con.execute("UPDATE templates SET ciphertext = ? WHERE pk = ?", (bytes(flipped), pk))
    con.commit()
    con.close()
    with pytest.raises(GalleryError, match="'alice' failed authentication"):
        Gallery(db, key)


def test_modified_nonce_is_rejected(db: Path, key: GalleryKey) -> None:
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("alice", "Alice", np.ones(DIM))
    con, rows = _raw_rows(db)
    pk, _, nonce, _ = rows[0]
    con.execute("UPDATE templates SET nonce = ? WHERE pk = ?", (bytes(12 - len(nonce)) + nonce[::-1], pk))
    con.commit()
    con.close()
    with pytest.raises(GalleryError, match="failed authentication"):
        Gallery(db, key)


def test_ciphertext_moved_to_another_row_is_rejected(db: Path, key: GalleryKey) -> None:
    rng = np.random.default_rng(4)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("alice", "Alice", _templates(rng, 1))
        gallery.enroll("mallory", "Mallory", _templates(rng, 1))
    con, rows = _raw_rows(db)
    (_, _, nonce_a, ct_a), (pk_m, _, _, _) = rows
    # Mallory copies Alice's sealed template over his own row to be matched as himself with her face.
    con.execute("UPDATE templates SET nonce = ?, ciphertext = ? WHERE pk = ?", (nonce_a, ct_a, pk_m))
    con.commit()
    con.close()
    with pytest.raises(GalleryError, match="'mallory' failed authentication"):
        Gallery(db, key)


def test_template_reassigned_to_another_identity_is_rejected(db: Path, key: GalleryKey) -> None:
    rng = np.random.default_rng(5)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("alice", "Alice", _templates(rng, 1))
        gallery.enroll("mal01", "Mallory", _templates(rng, 1))  # same length: only the id differs
    con, rows = _raw_rows(db)
    (pk_a, _, _, _), (_, owner_m, _, _) = rows
    con.execute("UPDATE templates SET identity_pk = ? WHERE pk = ?", (owner_m, pk_a))
    con.commit()
    con.close()
    with pytest.raises(GalleryError, match="failed authentication"):
        Gallery(db, key)


def test_ciphertext_from_another_gallery_is_rejected(tmp_path: Path, key: GalleryKey) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one, two = tmp_path / "a" / "one.db", tmp_path / "b" / "two.db"
    for path in (one, two):
        with Gallery(path, key, create=True) as gallery:
            gallery.enroll("alice", "Alice", np.arange(1, DIM + 1, dtype=np.float32))
    src, rows_one = _raw_rows(one)
    src.close()
    con = sqlite3.connect(str(two))
    tid = src_tid = sqlite3.connect(str(one)).execute("SELECT tid FROM templates").fetchone()[0]
    con.execute(
        "UPDATE templates SET tid = ?, nonce = ?, ciphertext = ?", (src_tid, rows_one[0][2], rows_one[0][3])
    )
    con.commit()
    con.close()
    assert tid == src_tid
    with pytest.raises(GalleryError, match="failed authentication"):
        Gallery(two, key)


def test_wrong_key_is_one_clear_error(db: Path, key: GalleryKey) -> None:
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("alice", "Alice", np.ones(DIM))
    with pytest.raises(GalleryError, match="wrong key for gallery"):
        Gallery(db, GalleryKey.generate())


def test_key_sources(tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    key = GalleryKey.generate()
    hex_file = key.write(secrets / "gallery.key")
    assert hex_file.stat().st_mode & 0o777 == 0o600
    assert GalleryKey.from_file(hex_file).secret == key.secret
    raw_file = secrets / "raw.key"
    raw_file.write_bytes(key.secret)
    raw_file.chmod(0o600)
    assert GalleryKey.from_file(raw_file).secret == key.secret
    monkeypatch.setenv("BIOGATE_GALLERY_KEY", key.secret.hex())
    assert GalleryKey.resolve().secret == key.secret
    assert key.secret.hex() not in repr(GalleryKey.resolve())
    with pytest.raises(GalleryError, match="already exists"):
        key.write(hex_file)
    (secrets / "bad.key").write_text("not a key")
    (secrets / "bad.key").chmod(0o600)
    with pytest.raises(GalleryError, match=r"bad\.key"):
        GalleryKey.from_file(secrets / "bad.key")
    monkeypatch.delenv("BIOGATE_GALLERY_KEY")
    with pytest.raises(GalleryError, match="BIOGATE_GALLERY_KEY"):
        GalleryKey.resolve()
    # A key file in the database's own folder would travel with every copy of it: refused.
    beside = key.write(db.parent / "gallery.key")
    with pytest.raises(GalleryError, match=r"inside .*the folder of gallery"):
        Gallery(db, GalleryKey.from_file(beside), create=True)
    with Gallery(db, GalleryKey.from_file(hex_file), create=True) as gallery:
        gallery.enroll("a", "A", np.ones(DIM))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.ones(DIM - 1), "127"),
        (np.full(DIM, np.nan), "NaN"),
        (np.r_[np.ones(DIM - 1), np.inf], "NaN or infinity"),
        (np.zeros(DIM), "zero vector"),
        (np.ones((2, 2, DIM)), "one vector or an"),
        (np.array([]), "one vector or an"),
        (np.array(["a"] * DIM), "numeric"),
    ],
)
def test_bad_templates_are_refused_and_change_nothing(db: Path, key: GalleryKey, bad, message: str) -> None:
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("ok", "OK", np.ones(DIM))
        with pytest.raises(GalleryError, match=message):
            gallery.enroll("bad", "Bad", bad)
        with pytest.raises(GalleryError, match=message):
            gallery.add_templates("ok", bad)
        assert "bad" not in gallery and gallery.n_templates == 1
        if np.asarray(bad).ndim == 1 and np.asarray(bad).dtype.kind == "f":
            with pytest.raises(GalleryError):
                gallery.search(bad)
    with Gallery(db, key) as gallery:
        assert [i.id for i in gallery.identities()] == ["ok"] and gallery.get("ok").n_templates == 1


def test_bad_identities_and_unknown_ids(db: Path, key: GalleryKey) -> None:
    with Gallery(db, key, create=True) as gallery:
        with pytest.raises(GalleryError, match="is empty"):
            gallery.search(np.ones(DIM))
        gallery.enroll("a", "A", np.ones(DIM))
        for ident in ("", " a", "x\ny", 5, "z" * 129):
            with pytest.raises(GalleryError, match="identity id"):
                gallery.enroll(ident, "N", np.ones(DIM))
        with pytest.raises(GalleryError, match="already enrolled"):
            gallery.enroll("a", "again", np.ones(DIM))
        with pytest.raises(GalleryError, match="already enrolled"):
            gallery.enroll_many([("b", "B", np.ones(DIM)), ("b", "B", np.ones(DIM))])
        for call in (lambda: gallery.delete("nobody"), lambda: gallery.verify("nobody", np.ones(DIM), 0.5)):
            with pytest.raises(GalleryError, match="'nobody' is not enrolled"):
                call()
        with pytest.raises(GalleryError, match="needs a threshold"):
            gallery.verify("a", np.ones(DIM))
        with pytest.raises(GalleryError, match="holds 128-d"):
            Gallery(db, key, dim=512)
    with pytest.raises(GalleryError, match="does not exist"):
        Gallery(db.parent / "missing.db", key)
    junk = db.parent / "junk.db"
    junk.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(GalleryError, match="not a biogate gallery"):
        Gallery(junk, key)


def test_dimension_comes_from_the_data(db: Path, key: GalleryKey) -> None:
    with Gallery(db, key, create=True) as gallery:
        assert gallery.dim is None
        gallery.enroll("a", "A", np.ones(512))
        assert gallery.dim == 512
        with pytest.raises(GalleryError, match="512-d"):
            gallery.enroll("b", "B", np.ones(DIM))
    with Gallery(db, key) as gallery:
        assert gallery.dim == 512


def test_delete_removes_identity_and_templates(db: Path, key: GalleryKey) -> None:
    rng = np.random.default_rng(6)
    temps = _templates(rng, 6)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("a", "A", temps[:3])
        gallery.enroll("b", "B", temps[3:])
        assert gallery.delete("a") == 3
        assert "a" not in gallery and gallery.n_templates == 3
        assert all(m.identity_id == "b" for m in gallery.search(temps[0], k=5))
        with pytest.raises(GalleryError, match="not enrolled"):
            gallery.templates("a")
    con = sqlite3.connect(str(db))
    assert con.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 3
    assert con.execute("SELECT id FROM identities").fetchall() == [("b",)]
    con.close()
    with Gallery(db, key) as gallery:
        assert [m.identity_id for m in gallery.search(temps[0], k=5)] == ["b"]


def test_search_and_verify_decisions(db: Path, key: GalleryKey, signed_bundle) -> None:
    rng = np.random.default_rng(7)
    temps = _templates(rng, 10)
    manifest = signed_bundle(name="embedder", task="face_embedding", thresholds={"cosine": 0.6})
    thr = threshold_from_manifest(manifest)
    assert thr == 0.6
    with pytest.raises(GalleryError, match="no thresholds\\['euclid'\\]; it has: cosine"):
        threshold_from_manifest(manifest, key="euclid")
    with Gallery(db, key, create=True, threshold=thr) as gallery:
        gallery.enroll_many([(f"P{i}", f"N{i}", temps[2 * i : 2 * i + 2]) for i in range(5)])
        probe = temps[4] + 0.2 * rng.standard_normal(DIM).astype(np.float32)
        best = gallery.search(probe, k=5)
        assert [m.identity_id for m in best] == ["P2"] and best.exact  # others fall below 0.6
        assert len(gallery.search(probe, k=5, threshold=-1.0)) == 5
        frame_faces = np.stack([probe, temps[9], np.ones(DIM, np.float32)])  # P2, P4, a stranger
        many = gallery.search_many(frame_faces, k=2)
        assert [[m.identity_id for m in ms] for ms in many] == [["P2"], ["P4"], []]
        assert abs(many[0][0].score - best[0].score) < 1e-6 and gallery.search_many(np.zeros((0, DIM))) == []
        with pytest.raises(GalleryError, match="search_many takes an"):
            gallery.search_many(probe)
        assert gallery.verify("P2", probe).accepted
        decision = gallery.verify("P3", probe)
        assert not decision.accepted and decision.score < 0.6 and decision.threshold == 0.6


def test_crash_mid_enrolment_leaves_no_partial_identity(db: Path, key: GalleryKey, tmp_path: Path) -> None:
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("before", "Before", np.ones(DIM))
    key_file = key.write(tmp_path / "k.hex")
    # A separate process dies (os._exit: no cleanup, no rollback) after writing the identity row.
    script = f"""
import os, numpy as np
from biogate.gallery import Gallery, GalleryKey
from biogate.gallery import store
real = store.GalleryStore.insert_templates
def dying(self, db, pk, sealed, created):
    real(self, db, pk, sealed[:1], created)
    os._exit(3)
store.GalleryStore.insert_templates = dying
g = Gallery({str(db)!r}, GalleryKey.from_file({str(key_file)!r}))
g.enroll_many([("crash", "Crash", np.ones((4, {DIM}))), ("crash2", "C2", np.ones({DIM}))])
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    with Gallery(db, key) as gallery:
        assert [i.id for i in gallery.identities()] == ["before"] and gallery.n_templates == 1
        gallery.enroll("after", "After", np.ones(DIM))


def test_failure_inside_transaction_rolls_back(db: Path, key: GalleryKey, monkeypatch) -> None:
    from biogate.gallery import store

    with Gallery(db, key, create=True) as gallery:
        gallery.enroll("before", "Before", np.ones(DIM))

        def broken(self, db_, pk, sealed, created):
            raise OSError("disk full")

        monkeypatch.setattr(store.GalleryStore, "insert_templates", broken)
        with pytest.raises(OSError):
            gallery.enroll_many([("x", "X", np.ones(DIM)), ("y", "Y", np.ones(DIM))])
        monkeypatch.undo()
        assert "x" not in gallery and gallery.n_templates == 1
        gallery.enroll("x", "X", np.ones(DIM))  # the id is free again
    with Gallery(db, key) as gallery:
        assert sorted(i.id for i in gallery.identities()) == ["before", "x"]


def test_concurrent_enrol_search_and_delete(db: Path, key: GalleryKey) -> None:
    rng = np.random.default_rng(8)
    base = _templates(rng, 200)
    extra = _templates(rng, 300)
    with Gallery(db, key, create=True) as gallery:
        gallery.enroll_many([(f"base{i}", "B", base[i]) for i in range(200)])
        gallery.enroll_many([(f"doomed{i}", "D", extra[200 + i]) for i in range(100)])
        start = threading.Barrier(4)
        errors = []
        wrong = []

        def searcher(seed: int) -> None:
            local = np.random.default_rng(seed)
            start.wait()
            try:
                for _ in range(150):
                    i = int(local.integers(200))
                    top = gallery.search(base[i], k=2)
                    if top[0].identity_id != f"base{i}" or top[0].score < 0.999:
                        wrong.append((i, top))
            except Exception as exc:  # surfaced below
                errors.append(exc)

        def writer() -> None:
            start.wait()
            try:
                for i in range(200):
                    gallery.enroll(f"new{i}", "N", extra[i])
                    if i < 100:
                        gallery.delete(f"doomed{i}")
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=searcher, args=(s,)) for s in (1, 2)] + [
            threading.Thread(target=writer),
            threading.Thread(target=searcher, args=(3,)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and not wrong
        assert len(gallery) == 400 and gallery.n_templates == 400
        for i in (0, 99, 199):
            assert gallery.search(extra[i])[0].identity_id == f"new{i}"
    with Gallery(db, key) as gallery:
        assert len(gallery) == 400 and not any(i.id.startswith("doomed") for i in gallery.identities())
