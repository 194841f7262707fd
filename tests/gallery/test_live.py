"""Live changes: deltas from other writers, the stored threshold, fleet batches, failing closed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from biogate.errors import GalleryError
from biogate.gallery import Change, Gallery, GalleryKey, store

DIM = 32


def _t(seed: int, n: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data" / "faces.db"


@pytest.fixture()
def key() -> GalleryKey:
    return GalleryKey.generate()


def _state(gallery: Gallery) -> tuple:
    people = {i.id: (i.name, i.meta, i.n_templates) for i in gallery.identities()}
    return people, gallery.n_templates, gallery.generation, gallery.stored_threshold, gallery.last_change_id


def test_another_writer_reaches_an_open_gallery_as_a_checked_delta(db: Path, key: GalleryKey) -> None:
    with Gallery(db, key, create=True, refresh_s=None) as reader, Gallery(db, key) as writer:
        writer.enroll_many([(f"P{i}", f"N{i}", _t(i, 2), {"i": i}) for i in range(6)])
        assert len(reader) == 0 and reader.refresh() and len(reader) == 6
        writer.delete("P1")
        writer.add_templates("P2", _t(100))
        writer.enroll("P9", "Nine", _t(9))
        writer.set_threshold(0.75)
        assert reader.search(_t(1)[0], threshold=-1.0)[0].identity_id == "P1"  # refresh_s=None: not yet
        assert reader.refresh() and not reader.refresh()
        assert _state(reader) == _state(writer)
        assert reader.search(_t(100)[0])[0].identity_id == "P2"
        assert all(m.identity_id != "P1" for m in reader.search(_t(1)[0], k=10, threshold=-1.0))
        assert reader.stored_threshold == 0.75 and not reader.search(
            _t(50)[0]
        )  # the stored threshold applies
        # the reader writes too: it catches up inside its own transaction first
        reader.enroll("R", "R", _t(20))
        writer.delete("P0")
        reader.delete("P3")
        assert writer.refresh() and _state(reader) == _state(writer)
    with Gallery(db, key) as again:
        assert _state(again) == _state(writer)


def test_a_reader_behind_the_pruned_log_reloads_everything(db: Path, key: GalleryKey, monkeypatch) -> None:
    monkeypatch.setattr(store, "LOG_KEEP", 4)
    with Gallery(db, key, create=True, refresh_s=None) as reader, Gallery(db, key) as writer:
        writer.enroll_many([(f"P{i}", "N", _t(i)) for i in range(3)])
        reader.refresh()
        for i in range(3, 12):
            writer.enroll(f"P{i}", "N", _t(i))
            writer.delete(f"P{i - 3}")
        con = sqlite3.connect(str(db))
        assert con.execute("SELECT COUNT(*) FROM changes").fetchone()[0] < 10  # pruned
        con.close()
        assert reader.refresh() and _state(reader) == _state(writer)
        assert sorted(i.id for i in reader.identities()) == ["P10", "P11", "P9"]


def test_apply_changes_is_one_transaction_applied_once(db: Path, key: GalleryKey) -> None:
    with Gallery(db, key, create=True) as gallery, Gallery(db, key, refresh_s=0) as kiosk:
        assert gallery.last_change_id is None
        assert gallery.apply_changes([Change.enroll("A", "Ann", _t(1)), Change.enroll("B", "Bo", _t(2))], 1)
        assert not gallery.apply_changes([Change.delete("A")], 1)  # received twice: applied once
        assert "A" in gallery and gallery.last_change_id == 1
        batch = [
            Change.delete("A"),
            Change.add("B", _t(3)),
            Change.enroll("C", "Cy", _t(4), {"badge": 4}),
            Change.delete("nobody"),  # revoking someone absent is a no-op
            Change.set_threshold(0.9),
            ("delete", "C"),  # plain tuples work too
            Change.enroll("C", "Cy again", _t(5)),
        ]
        assert gallery.apply_changes(batch, 7)
        assert (
            sorted(i.id for i in gallery.identities()) == ["B", "C"] and gallery.get("C").name == "Cy again"
        )
        assert gallery.get("B").n_templates == 2 and gallery.stored_threshold == 0.9
        generation = gallery.generation
        with pytest.raises(GalleryError, match="already enrolled"):
            gallery.apply_changes([Change.delete("B"), Change.enroll("C", "dup", _t(6))], 8)
        assert "B" in gallery and gallery.last_change_id == 7 and gallery.generation == generation
        assert _state(kiosk) == _state(gallery)  # the kiosk saw the batch whole, never a failed one
        assert gallery.apply_changes([Change.enroll("X", "X", _t(7))], 9, replace=True)  # a full sync
        assert [i.id for i in kiosk.identities()] == ["X"] and kiosk.last_change_id == 9
        assert kiosk.search(_t(2)[0], k=5, threshold=-1.0)[0].identity_id == "X"
        for bad in (-1, "10", True, 2.0):
            with pytest.raises(GalleryError, match="change id"):
                gallery.apply_changes([], bad)
        for value in (0, 1.5, -0.2, "abc", float("nan")):
            with pytest.raises(GalleryError, match=r"\(0, 1\]"):
                gallery.apply_changes([Change.set_threshold(value)], 10)
        with pytest.raises(GalleryError, match="unknown gallery change"):
            gallery.apply_changes([Change("rename", "X")], 10)
        with pytest.raises(GalleryError, match="JSON"):
            gallery.apply_changes([Change.enroll("Y", "Y", _t(8), {"f": object()})], 10)
        assert gallery.last_change_id == 9
        assert (
            gallery.apply_changes([Change.delete("X")]) and gallery.last_change_id == 9
        )  # no id: atomic only


def test_set_threshold_is_range_checked_and_followed(db: Path, key: GalleryKey) -> None:
    with Gallery(db, key, create=True, threshold=0.2) as gallery:
        gallery.enroll("A", "A", _t(1))
        probe = _t(1)[0] + 0.8 * _t(2)[0]  # cosine about 0.78 to A
        assert gallery.search(probe) and gallery.verify("A", probe).threshold == 0.2
        gallery.set_threshold(0.95)
        assert not gallery.search(probe) and not gallery.verify("A", probe).accepted
        assert gallery.search(probe, threshold=0.5)  # an explicit threshold still wins
        for bad in (0.0, 1.01, -1.0, "0.9", None.__class__):
            with pytest.raises(GalleryError, match=r"\(0, 1\]"):
                gallery.set_threshold(bad)
        gallery.set_threshold(None)
        assert gallery.stored_threshold is None and gallery.search(probe)


def test_a_gallery_replaced_under_a_running_reader_fails_closed(db: Path, key: GalleryKey) -> None:
    with Gallery(db, key, create=True) as writer:
        writer.enroll("A", "A", _t(1))
        old = db.read_bytes()
        with Gallery(db, key, refresh_s=0) as kiosk:
            writer.enroll("B", "B", _t(2))
            writer.delete("A")
            assert kiosk.search(_t(2)[0])[0].identity_id == "B"
            db.write_bytes(old)  # an older copy restored over it: A would be back
            for _ in range(2):
                with pytest.raises(GalleryError, match="went from generation 3 to 1"):
                    kiosk.search(_t(1)[0])
            kiosk.reload()  # an operator's explicit decision to use the file as it now is
            assert kiosk.search(_t(1)[0])[0].identity_id == "A"


def test_a_refused_create_leaves_no_empty_file(db: Path, key: GalleryKey) -> None:
    with pytest.raises(GalleryError, match="center must be"):  # refused after the file was made
        Gallery(db, key, create=True, dim=DIM, transform_key=GalleryKey.generate(), transform_center=[1.0])
    assert not db.exists()
