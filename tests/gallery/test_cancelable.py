"""Cancelable templates: keyed, many-to-one, revocable; only protected templates are stored."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from biogate.errors import GalleryError
from biogate.gallery import CancelableTransform, Gallery, GalleryKey

DIM = 128


def _fixed_key(seed: int) -> GalleryKey:
    """A reproducible key that passes the key-strength rule (a counting sequence would not)."""
    return GalleryKey(hashlib.sha256(b"test key %d" % seed).digest())


def _people(rng: np.random.Generator, people: int, shots: int, noise: float = 0.35):
    """Per-person centres on a shared offset (like real embeddings, not zero-mean) plus noisy shots."""
    offset = 2.0 * rng.standard_normal(DIM) / np.sqrt(DIM)
    centres = offset + rng.standard_normal((people, DIM)) / np.sqrt(DIM)
    shots_ = centres[:, None] + noise * rng.standard_normal((people, shots, DIM)) / np.sqrt(DIM)
    unit = shots_ / np.linalg.norm(shots_, axis=2, keepdims=True)
    return unit.astype(np.float32), (offset / np.linalg.norm(offset)).astype(np.float32)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_same_key_same_output_and_values_are_signs() -> None:
    key = GalleryKey.generate()
    x = np.random.default_rng(0).standard_normal((5, DIM))
    a = CancelableTransform(key, DIM).apply(x)
    b = CancelableTransform(GalleryKey(key.secret), DIM).apply(x)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 1024) and set(np.unique(a * 32).tolist()) <= {-1.0, 1.0}
    assert not np.array_equal(a, CancelableTransform(GalleryKey.generate(), DIM).apply(x))
    with pytest.raises(GalleryError, match="zero vector"):
        CancelableTransform(key, DIM).apply(np.zeros(DIM))


def test_protected_cosine_follows_the_angle() -> None:
    # E[cos] = 1 - 2θ/π for sign-of-Gaussian-projection codes (the matching threshold map).
    rng = np.random.default_rng(1)
    t = CancelableTransform(_fixed_key(7), DIM, bits=4096)
    x = rng.standard_normal((40, DIM))
    y = x + rng.uniform(0.2, 2.0, (40, 1)) * rng.standard_normal((40, DIM))
    expected = [t.threshold(c) for c in _cos(x, y)]
    np.testing.assert_allclose(_cos(t.apply(x), t.apply(y)), expected, atol=0.06)


def test_a_new_key_makes_old_protected_templates_unmatchable() -> None:
    rng = np.random.default_rng(2)
    faces, centre = _people(rng, 30, 2)
    # Fixed keys keep the test deterministic (300 random key pairs also passed every check).
    old = CancelableTransform(_fixed_key(32), DIM, center=centre)
    new = CancelableTransform(_fixed_key(33), DIM, center=centre)
    enrolled = old.apply(faces[:, 0])
    scores = enrolled @ old.apply(faces[:, 1]).T
    threshold = float(scores[~np.eye(30, dtype=bool)].max())  # the best of 870 impostor pairs
    assert (np.diag(scores) > threshold).all()  # with its key the protected gallery still matches
    genuine_new_key = np.sum(enrolled * new.apply(faces[:, 1]), axis=1)
    assert (genuine_new_key < threshold).all()  # after revocation no old template matches its owner
    assert abs(float(genuine_new_key.mean())) < 0.05  # ... and they look like strangers (mean 0)


def test_protected_gallery_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    db = tmp_path / "db" / "faces.db"
    key, tkey = GalleryKey.generate(), _fixed_key(100)
    rng = np.random.default_rng(3)
    faces, centre = _people(rng, 20, 2)
    with pytest.raises(GalleryError, match="needs dim="):
        Gallery(db, key, create=True, transform_key=tkey)
    with Gallery(db, key, create=True, dim=DIM, transform_key=tkey, transform_center=centre) as gallery:
        gallery.enroll_many([(f"P{i}", f"N{i}", faces[i, 0]) for i in range(20)])
        assert gallery.dim == DIM and gallery.transform.bits == 1024
        stored = gallery.templates("P4")
        assert stored.shape == (1, 1024) and set(np.unique(stored * 32).tolist()) <= {-1.0, 1.0}
        hits = [gallery.search(faces[i, 1])[0].identity_id for i in range(20)]
        assert hits == [f"P{i}" for i in range(20)]
        with pytest.raises(GalleryError, match="128-d"):
            gallery.enroll("bad", "Bad", np.ones(1024))
    # Not even the protected form holds the raw template bytes.
    raw = b"".join(p.read_bytes() for p in (tmp_path / "db").iterdir())
    for row in faces[:, 0]:
        assert row.astype("<f4").tobytes()[:16] not in raw
    with pytest.raises(GalleryError, match="pass its transform key"):
        Gallery(db, key)
    with pytest.raises(GalleryError, match="wrong transform key"):
        Gallery(db, key, transform_key=GalleryKey.generate())
    with Gallery(db, key, transform_key=tkey) as gallery:  # reopened: same answers
        assert gallery.search(faces[7, 1])[0].identity_id == "P7"
    (tmp_path / "plain").mkdir()
    with Gallery(tmp_path / "plain" / "p.db", key, create=True) as plain:
        plain.enroll("a", "A", faces[0, 0])
    with pytest.raises(GalleryError, match="does not use cancelable templates"):
        Gallery(tmp_path / "plain" / "p.db", key, transform_key=tkey)
