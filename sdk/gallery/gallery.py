"""The face gallery: enrolled identities, encrypted templates, 1:N search and 1:1 verify.

>>> key = GalleryKey.from_file("/etc/biogate/gallery.key")
>>> with Gallery("faces.db", key, create=True) as gallery:
...     gallery.enroll("E042", "Ada Lovelace", templates, meta={"badge": "0042"})
...     gallery.search(probe, k=3)            # best identities first
...     gallery.verify("E042", probe)          # 1:1 against one identity

Thread safety: any number of threads may search while others enrol or delete.  Writes are
serialised (one SQLite transaction each, then the in-memory index); searches never wait for
them and see each write entirely or not at all.  One process should own a gallery file for
writing; other processes see its changes after :meth:`Gallery.reload`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

from ..errors import BundleError, GalleryError
from .cancelable import CancelableTransform
from .crypto import GalleryKey, TemplateCipher, check_key_location
from .index import TemplateIndex, normalise
from .store import GalleryStore, IdentityRow

_MAX_ID = 128
_TID_BYTES = 16


class Identity(NamedTuple):
    """An enrolled person: external id, display name, metadata and number of templates."""

    id: str
    name: str
    meta: dict[str, Any]
    n_templates: int
    created: float


class Match(NamedTuple):
    """One 1:N result: the identity and its best template's cosine similarity to the probe."""

    identity_id: str
    name: str
    score: float
    template_id: str  # hex


class Matches(list):
    """The result of :meth:`Gallery.search`: a list of :class:`Match`, best first.

    ``exact`` is False only when the int8 shortlist had to be truncated (see ``max_shortlist``);
    ``shortlist`` is how many templates were re-ranked in float32.
    """

    exact: bool = True
    shortlist: int = 0


class Verification(NamedTuple):
    """A 1:1 decision."""

    identity_id: str
    score: float
    threshold: float
    accepted: bool


class Enrollment(NamedTuple):
    """One identity for :meth:`Gallery.enroll_many`."""

    identity_id: str
    name: str
    templates: Any  # (n, dim) or (dim,) array-like
    meta: dict[str, Any] | None = None


def _check_identity(identity_id: Any, name: Any) -> None:
    if not isinstance(identity_id, str) or not 0 < len(identity_id) <= _MAX_ID:
        raise GalleryError(f"identity id must be a string of 1..{_MAX_ID} characters, got {identity_id!r}")
    if any(ord(c) < 32 for c in identity_id) or identity_id != identity_id.strip():
        raise GalleryError(f"identity id {identity_id!r} has control characters or surrounding spaces")
    if not isinstance(name, str):
        raise GalleryError(f"name of identity {identity_id!r} must be a string, got {type(name).__name__}")


def threshold_from_manifest(bundle: str | Path | Any, key: str = "cosine") -> float:
    """The cosine decision threshold of an embedder bundle, read from the *verified* bundle.

    ``bundle`` is a bundle directory, its ``manifest.json`` or an open :class:`biogate.bundle.Bundle`;
    the bundle is opened like every model's (signature, hashes, threshold ranges:
    :func:`biogate.bundle.open_bundle`), so a tampered manifest can never set the threshold.
    """
    from ..bundle import Bundle, open_bundle

    if not isinstance(bundle, Bundle):
        path = Path(bundle)
        bundle = open_bundle(path.parent if path.name == "manifest.json" else path)
    try:
        return bundle.threshold(key)
    except BundleError as exc:  # a missing key is the gallery caller's mistake
        raise GalleryError(str(exc)) from None


class Gallery:
    """An encrypted face gallery in one SQLite file.

    Args:
        path: the database file.
        key: the :class:`GalleryKey` (from a file or the environment; never stored with the DB).
        create: create the file when it does not exist.
        dim: expected template dimension; ``None`` takes it from the data (first enrolment).
        threshold: default cosine threshold for :meth:`search` and :meth:`verify`
            (see :func:`threshold_from_manifest`); ``None`` returns unfiltered top-k.
        backend: index backend, see :class:`~biogate.gallery.index.TemplateIndex`.
        max_shortlist: cap on float32 re-ranking per search.
        transform_key: store cancelable templates (:mod:`biogate.gallery.cancelable`) made with
            this secret; a new gallery then needs ``dim``.  A gallery created with a transform
            can only be opened with its transform key.
        transform_bits, transform_center: the transform's output bits and centring vector
            (used when creating; an existing gallery keeps its own).
    """

    def __init__(
        self,
        path: str | Path,
        key: GalleryKey,
        *,
        create: bool = False,
        dim: int | None = None,
        threshold: float | None = None,
        backend: str = "auto",
        max_shortlist: int = 8192,
        transform_key: GalleryKey | None = None,
        transform_bits: int = 1024,
        transform_center: Any = None,
    ) -> None:
        if not isinstance(key, GalleryKey):
            raise GalleryError(
                f"key must be a GalleryKey (GalleryKey.from_file/from_env), got {type(key).__name__}"
            )
        self.path = str(path)
        check_key_location(key, self.path)
        self.threshold = threshold
        self._backend = backend
        self._max_shortlist = max_shortlist
        if transform_key is not None and dim is None and not Path(self.path).exists():
            raise GalleryError("a gallery of cancelable templates needs dim= (the embedder's dimension)")
        self._store = GalleryStore(self.path, create)
        try:
            self._open(key, dim, transform_key, transform_bits, transform_center)
        except BaseException:
            self._store.close()  # a refused open (wrong key, bad rows) leaves no connection behind
            raise

    def _open(
        self,
        key: GalleryKey,
        dim: int | None,
        transform_key: GalleryKey | None,
        transform_bits: int,
        transform_center: Any,
    ) -> None:
        self._transform: CancelableTransform | None = None
        uuid = self._store.get_meta("uuid")
        if uuid is None:  # a new file: give it an identity and a key check, atomically
            uuid = os.urandom(16)
            self._cipher = TemplateCipher(key, uuid)
            if transform_key is not None:
                if dim is None:
                    raise GalleryError(
                        "a gallery of cancelable templates needs dim= (the embedder's dimension)"
                    )
                self._transform = CancelableTransform(
                    transform_key, int(dim), transform_bits, transform_center
                )
            with self._store.transaction() as db:
                self._store.set_meta(db, "schema", b"1")
                self._store.set_meta(db, "uuid", uuid)
                self._store.set_meta(db, "key_check", self._cipher.key_check())
                if self._transform is not None:  # the stored templates are the transform's output
                    self._store.set_meta(db, "transform", self._transform.params())
                    self._store.set_meta(db, "dim", str(self._transform.bits).encode())
                elif dim is not None:
                    self._store.set_meta(db, "dim", str(int(dim)).encode())
        else:
            self._cipher = TemplateCipher(key, uuid)
            record = self._store.get_meta("key_check")
            if record is None:
                raise GalleryError(f"gallery {self.path!r} has no key-check record (damaged file?)")
            self._cipher.verify_key_check(record, self.path)
            params = self._store.get_meta("transform")
            if params is not None and transform_key is None:
                raise GalleryError(
                    f"gallery {self.path!r} holds cancelable templates: pass its transform key"
                )
            if params is None and transform_key is not None:
                raise GalleryError(
                    f"gallery {self.path!r} does not use cancelable templates; drop the transform key"
                )
            if params is not None:
                self._transform = CancelableTransform.from_params(params, transform_key, self.path)
        stored = self._store.get_meta("dim")
        self._dim = int(stored) if stored is not None else None  # of the stored templates
        if dim is not None and self.dim is not None and int(dim) != self.dim:
            raise GalleryError(f"gallery {self.path!r} holds {self.dim}-d templates, not {dim}-d")
        self.reload()

    # -- life cycle ------------------------------------------------------------------------------
    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; the gallery object is unusable afterwards."""
        self._store.close()

    def reload(self) -> None:
        """Re-read every identity and decrypt every template into a fresh in-memory index."""
        with self._store.lock:
            rows = self._store.names()
            self._ids = {pk: (ident, name) for pk, ident, name in rows}
            self._pk = {ident: pk for pk, ident, _ in rows}
            index = TemplateIndex(self._dim or 1, self._backend, self._max_shortlist)
            templates = self._store.templates()
            if templates:
                owners = np.fromiter((t[0] for t in templates), np.int64, len(templates))
                raw = [self._cipher.open(ident, tid, nonce, ct) for _, ident, tid, nonce, ct in templates]
                vectors = np.frombuffer(b"".join(raw), "<f4").reshape(len(raw), -1)
                index.add_many(owners, [t[2] for t in templates], normalise(vectors, index.dim))
            self._index = index

    # -- properties ------------------------------------------------------------------------------
    @property
    def dim(self) -> int | None:
        """Dimension of the templates it takes (``None`` until the first enrolment of a new gallery)."""
        return self._transform.dim if self._transform is not None else self._dim

    @property
    def transform(self) -> CancelableTransform | None:
        """The cancelable transform of a protected gallery, else ``None``."""
        return self._transform

    def __len__(self) -> int:
        """Number of enrolled identities."""
        return len(self._pk)

    def __contains__(self, identity_id: object) -> bool:
        return identity_id in self._pk

    @property
    def n_templates(self) -> int:
        """Number of templates in the search index."""
        return len(self._index)

    def identities(self) -> list[Identity]:
        """Every enrolled identity, oldest first."""
        return [self._identity(r) for r in self._store.identities()]

    def get(self, identity_id: str) -> Identity:
        """One identity; an unknown id is a :class:`GalleryError`."""
        row = self._store.identity(identity_id)
        if row is None:
            raise GalleryError(f"identity {identity_id!r} is not enrolled in {self.path!r}")
        return self._identity(row)

    @staticmethod
    def _identity(row: IdentityRow) -> Identity:
        return Identity(row.id, row.name, row.meta, row.n_templates, row.created)

    def templates(self, identity_id: str) -> np.ndarray:
        """Decrypt one identity's templates as stored (protected ones for a cancelable gallery)."""
        pk = self._pk_of(identity_id)
        raw = [self._cipher.open(i, tid, n, ct) for _, i, tid, n, ct in self._store.templates(pk)]
        return np.frombuffer(b"".join(raw), "<f4").reshape(len(raw), -1).copy()

    def _pk_of(self, identity_id: str) -> int:
        pk = self._pk.get(identity_id)
        if pk is None:
            raise GalleryError(f"identity {identity_id!r} is not enrolled in {self.path!r}")
        return pk

    # -- writes ----------------------------------------------------------------------------------
    def _prepare(self, identity_id: str, templates: Any, dim: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Validate templates; returns ``(raw float32 rows, unit rows)``."""
        arr = np.asarray(templates)
        if arr.ndim not in (1, 2) or arr.size == 0:
            raise GalleryError(
                f"templates of {identity_id!r} must be one vector or an (n, dim) array, got {arr.shape}"
            )
        arr2 = np.atleast_2d(arr)
        dim = dim if dim is not None else arr2.shape[1]
        unit = normalise(arr2, dim, f"template of {identity_id!r}")
        if self._transform is not None:  # only the protected form is ever stored
            arr2 = self._transform.apply(arr2)
            unit = normalise(arr2, arr2.shape[1])
        return np.ascontiguousarray(arr2, dtype="<f4"), unit

    def _seal(self, identity_id: str, raw: np.ndarray) -> tuple[list[bytes], list]:
        tids = [os.urandom(_TID_BYTES) for _ in range(len(raw))]
        sealed = [(tid, *self._cipher.seal(identity_id, tid, row.tobytes())) for tid, row in zip(tids, raw)]
        return tids, sealed

    def enroll(
        self, identity_id: str, name: str, templates: Any, meta: dict[str, Any] | None = None
    ) -> Identity:
        """Enrol a new identity with one or more templates, atomically."""
        self.enroll_many([Enrollment(identity_id, name, templates, meta)])
        return self.get(identity_id)

    def enroll_many(self, entries: Iterable[Enrollment | Sequence[Any]]) -> int:
        """Enrol many identities in one transaction (all or none); returns how many."""
        with self._store.lock:
            dim = self.dim
            batch = []
            seen = set()
            for entry in entries:
                e = Enrollment(*entry)
                _check_identity(e.identity_id, e.name)
                if e.identity_id in self._pk or e.identity_id in seen:
                    raise GalleryError(f"identity {e.identity_id!r} is already enrolled (use add_templates)")
                seen.add(e.identity_id)
                raw, unit = self._prepare(e.identity_id, e.templates, dim)
                dim = self.dim or unit.shape[1]
                batch.append((e, raw, unit))
            if not batch:
                return 0
            now = time.time()
            added = []
            with self._store.transaction() as db:
                if self._dim is None:
                    self._store.set_meta(db, "dim", str(dim).encode())
                for e, raw, unit in batch:
                    pk = self._store.insert_identity(db, e.identity_id, e.name, dict(e.meta or {}), now)
                    tids, sealed = self._seal(e.identity_id, raw)
                    self._store.insert_templates(db, pk, sealed, now)
                    added.append((pk, e, tids, unit))
            # Committed: now publish to the index (in memory, cannot fail half-way on bad data).
            if self._dim is None:
                self._dim = dim
                self._index = TemplateIndex(dim, self._backend, self._max_shortlist)
            owners = np.concatenate([np.full(len(u), pk, np.int64) for pk, _, _, u in added])
            self._index.add_many(
                owners, [t for _, _, tids, _ in added for t in tids], np.vstack([u for *_, u in added])
            )
            for pk, e, _, _ in added:
                self._ids[pk] = (e.identity_id, e.name)
                self._pk[e.identity_id] = pk
            return len(added)

    def add_templates(self, identity_id: str, templates: Any) -> int:
        """Add templates to an enrolled identity, atomically; returns how many."""
        with self._store.lock:
            pk = self._pk_of(identity_id)
            raw, unit = self._prepare(identity_id, templates, self.dim)
            with self._store.transaction() as db:
                tids, sealed = self._seal(identity_id, raw)
                self._store.insert_templates(db, pk, sealed, time.time())
            self._index.add(pk, tids, unit)
            return len(tids)

    def delete(self, identity_id: str) -> int:
        """Delete an identity and all its templates; returns how many templates went."""
        with self._store.lock:
            pk = self._pk_of(identity_id)
            with self._store.transaction() as db:
                count = self._store.delete_identity(db, pk)
            self._index.remove(pk)
            del self._pk[identity_id], self._ids[pk]
            return count

    # -- matching --------------------------------------------------------------------------------
    def _probes(self, embeddings: Any, what: str = "probe") -> np.ndarray:
        """Validated unit probes ``(m, stored dim)``: normalised, transformed when protected."""
        if self._dim is None:
            raise GalleryError(f"gallery {self.path!r} is empty: enrol someone before searching")
        unit = normalise(embeddings, self.dim, what)
        if self._transform is not None:
            unit = normalise(self._transform.apply(unit), self._transform.bits, what)
        return unit

    def _probe(self, embedding: Any) -> np.ndarray:
        arr = np.asarray(embedding)
        if arr.ndim != 1:
            raise GalleryError(f"a probe is one {self.dim}-d vector, got shape {arr.shape}")
        return self._probes(arr)[0]

    def _matches(self, result: Any) -> Matches:
        out = Matches()
        ids = self._ids
        for hit in result.hits:
            known = ids.get(hit.owner)
            if known is not None:  # None only for an identity deleted while this search ran
                out.append(Match(known[0], known[1], hit.score, hit.template_id.hex()))
        out.exact, out.shortlist = result.exact, result.shortlist
        return out

    def search(self, embedding: Any, k: int = 1, threshold: float | None = None) -> Matches:
        """1:N: the ``k`` identities most similar to ``embedding`` (cosine), best first.

        ``threshold`` (default: the gallery's) drops identities scoring below it; with no
        threshold at all the plain top-k is returned.
        """
        probe = self._probe(embedding)
        thr = self.threshold if threshold is None else threshold
        return self._matches(self._index.search(probe, k, thr))

    def search_many(self, embeddings: Any, k: int = 1, threshold: float | None = None) -> list[Matches]:
        """:meth:`search` for every row of ``(m, dim)`` embeddings (all faces of a frame) at once.

        One pass over the gallery serves all probes, so m faces cost far less than m searches.
        """
        arr = np.asarray(embeddings)
        if arr.ndim != 2:
            raise GalleryError(f"search_many takes an (m, {self.dim}) array of probes, got shape {arr.shape}")
        if len(arr) == 0:
            return []
        thr = self.threshold if threshold is None else threshold
        return [self._matches(r) for r in self._index.search_many(self._probes(arr, "probes"), k, thr)]

    def verify(self, identity_id: str, embedding: Any, threshold: float | None = None) -> Verification:
        """1:1: is ``embedding`` the enrolled identity ``identity_id``?"""
        thr = self.threshold if threshold is None else threshold
        if thr is None:
            raise GalleryError("verify needs a threshold: pass threshold= or open the gallery with one")
        probe = self._probe(embedding)
        hit = self._index.best_of(self._pk_of(identity_id), probe)
        if hit is None:
            raise GalleryError(f"identity {identity_id!r} has no templates")
        return Verification(identity_id, hit.score, float(thr), hit.score >= thr)
