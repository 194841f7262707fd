"""The face gallery: enrolled identities, encrypted templates, 1:N search and 1:1 verify.

>>> key = GalleryKey.from_file("/etc/biogate/gallery.key")
>>> with Gallery("faces.db", key, create=True) as gallery:
...     gallery.enroll("E042", "Ada Lovelace", templates, meta={"badge": "0042"})
...     gallery.search(probe, k=3)            # best identities first
...     gallery.verify("E042", probe)          # 1:1 against one identity

Thread safety: any number of threads may search while others enrol or delete.  Writes are
serialised (one SQLite transaction each, then the in-memory index); searches never wait for
them and see each write entirely or not at all.

Live changes: any number of processes may write.  A search checks at most every ``refresh_s``
seconds (``PRAGMA data_version``: no I/O when nothing changed) whether another process
committed, and if so applies that delta before it answers — so a search that starts more than
``refresh_s`` after another process deleted an identity never matches it (docs/gallery.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import BundleError, GalleryError
from . import batch
from .cancelable import CancelableTransform
from .crypto import GalleryKey, TemplateCipher, check_key_location
from .index import normalise
from .integrity import GalleryState, RowDigest, open_state, params_sha256, seal_state
from .records import Change, Enrollment, Identity, Match, Matches, Verification
from .store import LOCK_TIMEOUT_S, SCHEMA_VERSION, GalleryStore, Locked
from .view import Loader, RowChecker, View

#: Default: how often (seconds) a search looks for changes committed by other processes.
REFRESH_S = 0.1
_REFRESH_WAIT_S = 0.25  # a search waits at most this long for a lock to read a delta


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
        create: create the file (owner-only) when it does not exist.
        dim: expected template dimension; ``None`` takes it from the data (first enrolment).
        threshold: default cosine threshold for :meth:`search` and :meth:`verify`
            (see :func:`threshold_from_manifest`); ``None`` returns unfiltered top-k.  A
            threshold stored in the gallery (:meth:`set_threshold`) can only raise it.
        backend: index backend, see :class:`~biogate.gallery.index.TemplateIndex`.
        max_shortlist: cap on float32 re-ranking per search.
        transform_key: store cancelable templates (:mod:`biogate.gallery.cancelable`) made with
            this secret; a new gallery then needs ``dim``.  A gallery created with a transform
            can only be opened with its transform key.
        transform_bits, transform_center: the transform's output bits and centring vector
            (used when creating; an existing gallery keeps its own).
        refresh_s: how often a search looks for other processes' changes (``None``: never;
            call :meth:`refresh`).  ``0`` checks before every search.
        lock_timeout_s: how long to wait for another process's lock before a :class:`GalleryError`.
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
        refresh_s: float | None = REFRESH_S,
        lock_timeout_s: float = LOCK_TIMEOUT_S,
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
        self._refresh_s = refresh_s
        self._next_check = 0.0
        self._broken: GalleryError | None = None
        if transform_key is not None and dim is None and not Path(self.path).exists():
            raise GalleryError("a gallery of cancelable templates needs dim= (the embedder's dimension)")
        self._store = GalleryStore(self.path, create, lock_timeout_s)
        try:
            self._open(key, dim, transform_key, transform_bits, transform_center)
        except BaseException:
            self._store.close()  # a refused open (wrong key, bad rows) leaves no connection behind
            where = Path(self.path)
            if self._store.created and where.exists() and where.stat().st_size == 0:
                where.unlink()  # nor an empty file it created
            raise

    # -- opening ---------------------------------------------------------------------------------
    def _open(
        self, key: GalleryKey, dim: int | None, transform_key: GalleryKey | None, bits: int, center: Any
    ) -> None:
        store = self._store
        with store.read() as db:
            tables = store.tables(db)
            meta = store.meta(db) if "meta" in tables else {}
        if not tables and store.fresh:  # a new file: nothing in it yet, nothing to lose
            self._initialise(key, dim, transform_key, bits, center)
            with store.read() as db:
                tables, meta = store.tables(db), store.meta(db)
        self._check_schema(tables, meta)
        uuid = meta.get("uuid")
        if uuid is None or len(uuid) != 16:
            raise GalleryError(f"gallery {self.path!r} has no valid uuid record (damaged file?)")
        self._cipher = TemplateCipher(key, uuid)
        if "key_check" not in meta:
            raise GalleryError(f"gallery {self.path!r} has no key-check record (damaged file?)")
        self._cipher.verify_key_check(meta["key_check"], self.path)
        self._digest = RowDigest(key, uuid)
        checker = RowChecker(self.path, self._cipher, self._digest)
        self._loader = Loader(self._store, checker, self._cipher, self._backend, self._max_shortlist)
        if "state" not in meta:
            raise GalleryError(f"gallery {self.path!r} has no state record (damaged file?)")
        state = open_state(self._cipher, meta["state"], self.path)
        self._transform = self._open_transform(meta.get("transform"), transform_key, state)
        stored = meta.get("dim")
        try:
            stored_dim = None if stored is None else int(stored.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise GalleryError(
                f"meta 'dim' of gallery {self.path!r} is not a number (damaged or edited file)"
            ) from None
        if stored_dim != state.dim:
            raise GalleryError(
                f"meta 'dim' of gallery {self.path!r} says {stored_dim}, its authenticated state {state.dim}"
            )
        version = store.poll()
        self._view = self._load_full()
        self._data_version = version
        if dim is not None and self.dim is not None and int(dim) != self.dim:
            raise GalleryError(f"gallery {self.path!r} holds {self.dim}-d templates, not {dim}-d")
        store.use_rollback_journal()

    def _initialise(
        self, key: GalleryKey, dim: int | None, transform_key: GalleryKey | None, bits: int, center: Any
    ) -> None:
        uuid = os.urandom(16)
        cipher = TemplateCipher(key, uuid)
        params = stored_dim = None
        if transform_key is not None:
            if dim is None:
                raise GalleryError("a gallery of cancelable templates needs dim= (the embedder's dimension)")
            transform = CancelableTransform(transform_key, int(dim), bits, center)
            params, stored_dim = transform.params(), transform.bits  # stored: the transform's output
        elif dim is not None:
            stored_dim = int(dim)
        state = GalleryState(dim=stored_dim, transform_sha256=params_sha256(params))
        store = self._store
        store.use_rollback_journal()
        with store.write() as db:
            if store.tables(db):
                return  # another process initialised it meanwhile: open it as found
            store.create_schema(db)
            store.set_meta(db, "schema", str(SCHEMA_VERSION).encode())
            store.set_meta(db, "uuid", uuid)
            store.set_meta(db, "key_check", cipher.key_check())
            if params is not None:
                store.set_meta(db, "transform", params)
            if stored_dim is not None:
                store.set_meta(db, "dim", str(stored_dim).encode())
            store.set_meta(db, "state", seal_state(cipher, state))

    def _check_schema(self, tables: set[str], meta: dict[str, bytes]) -> None:
        if not {"meta", "identities", "templates"} <= tables:
            raise GalleryError(f"{self.path!r} is not a biogate gallery database (tables missing)")
        schema = meta.get("schema")
        if schema == b"1":
            raise GalleryError(
                f"gallery {self.path!r} was written by an older biogate (schema 1, no integrity record); "
                f"upgrade it once with `biogate gallery upgrade --gallery {self.path}`"
            )
        if schema != str(SCHEMA_VERSION).encode() or "changes" not in tables:
            raise GalleryError(
                f"{self.path!r} is not a biogate gallery database of a known schema ({schema!r})"
            )

    def _open_transform(
        self, params: bytes | None, transform_key: GalleryKey | None, state: GalleryState
    ) -> CancelableTransform | None:
        if params_sha256(params) != state.transform_sha256:
            raise GalleryError(
                f"the cancelable-transform parameters of gallery {self.path!r} do not match its "
                "authenticated state (missing, or edited outside biogate)"
            )
        if params is not None and transform_key is None:
            raise GalleryError(f"gallery {self.path!r} holds cancelable templates: pass its transform key")
        if params is None and transform_key is not None:
            raise GalleryError(
                f"gallery {self.path!r} does not use cancelable templates; drop the transform key"
            )
        return None if params is None else CancelableTransform.from_params(params, transform_key, self.path)

    def _load_full(self, db: Any = None) -> View:
        return self._loader.full(db)

    def _sync(self, db: Any) -> GalleryState:
        """Bring the view up to the state in ``db`` (a delta, else a full reload); the state."""
        self._view, state = self._loader.sync(self._view, db)
        return state

    def refresh(self) -> bool:
        """Apply what other processes committed since; True when the gallery changed."""
        with self._store.lock:
            generation = self.generation
            version = self._store.poll()
            with self._store.read() as db:
                self._sync(db)
            self._data_version, self._broken = version, None
            return self.generation != generation

    def _maybe_refresh(self) -> None:
        """Called by every search: a cheap check at most every ``refresh_s``, a delta if needed."""
        if self._broken is not None:
            raise self._broken  # fail closed until the gallery can be read again
        if self._refresh_s is None or time.monotonic() < self._next_check:
            return
        store = self._store
        if not store.lock.acquire(blocking=False):
            return  # this process is writing: its own writes reach the index directly
        try:
            self._next_check = time.monotonic() + self._refresh_s
            version = store.poll()
            if version is None or version == self._data_version:
                return
            with store.read(_REFRESH_WAIT_S) as db:
                self._sync(db)
            self._data_version = version
        except Locked:
            return  # a writer is committing: look again at the next check
        except GalleryError as exc:
            self._broken = exc
            raise
        finally:
            store.lock.release()

    # -- life cycle ------------------------------------------------------------------------------
    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; the gallery object is unusable afterwards."""
        self._store.close()

    def reload(self) -> None:
        """Re-read and re-check every identity and template into a fresh in-memory index."""
        with self._store.lock:
            version = self._store.poll()
            self._view = self._load_full()
            self._data_version, self._broken = version, None

    # -- properties ------------------------------------------------------------------------------
    @property
    def dim(self) -> int | None:
        """Dimension of the templates it takes (``None`` until the first enrolment of a new gallery)."""
        return self._transform.dim if self._transform is not None else self._view.state.dim

    @property
    def transform(self) -> CancelableTransform | None:
        """The cancelable transform of a protected gallery, else ``None``."""
        return self._transform

    @property
    def generation(self) -> int:
        """The change counter: bumped by every writing transaction of any process."""
        return self._view.state.generation

    @property
    def stored_threshold(self) -> float | None:
        """The decision threshold stored in the gallery (:meth:`set_threshold`), followed live."""
        return self._view.state.threshold

    @property
    def last_change_id(self) -> int | None:
        """The id of the last batch applied by :meth:`apply_changes` (``None``: never)."""
        return self._view.state.last_change_id

    def __len__(self) -> int:
        """Number of enrolled identities."""
        return len(self._view.pks)

    def __contains__(self, identity_id: object) -> bool:
        return identity_id in self._view.pks

    @property
    def n_templates(self) -> int:
        """Number of templates in the search index."""
        return len(self._view.index)

    # -- reading ---------------------------------------------------------------------------------
    def identities(self) -> list[Identity]:
        """Every enrolled identity, oldest first (as verified: from memory)."""
        self._maybe_refresh()
        return [p.identity() for p in sorted(self._view.people.values())]

    def get(self, identity_id: str) -> Identity:
        """One identity; an unknown id is a :class:`GalleryError`."""
        self._maybe_refresh()
        view = self._view
        return view.people[self._pk_of(view, identity_id)].identity()

    def templates(self, identity_id: str) -> np.ndarray:
        """Decrypt one identity's templates as stored (protected ones for a cancelable gallery)."""
        view = self._view
        person = view.people[self._pk_of(view, identity_id)]
        with self._store.read() as db:
            rows = self._store.template_rows(db, 0, person.pk)
        if len(rows) != person.n_templates:
            raise GalleryError(
                f"gallery {self.path!r} returned {len(rows)} templates of {identity_id!r}, "
                f"{person.n_templates} were verified (damaged index?)"
            )
        raw = [self._cipher.open(identity_id, tid, nonce, ct) for _, _, tid, nonce, ct, _ in rows]
        return np.frombuffer(b"".join(raw), "<f4").reshape(len(raw), -1).copy()

    def _pk_of(self, view: View, identity_id: str) -> int:
        pk = view.pks.get(identity_id)
        if pk is None:
            raise GalleryError(f"identity {identity_id!r} is not enrolled in {self.path!r}")
        return pk

    # -- writes (each one transaction; see biogate.gallery.batch) ----------------------------------
    def enroll(
        self, identity_id: str, name: str, templates: Any, meta: dict[str, Any] | None = None
    ) -> Identity:
        """Enrol a new identity with one or more templates, atomically."""
        self.enroll_many([Enrollment(identity_id, name, templates, meta)])
        return self.get(identity_id)

    def enroll_many(self, entries: Iterable[Enrollment | Any]) -> int:
        """Enrol many identities in one transaction (all or none); returns how many."""
        changes = [Change.enroll(*Enrollment(*e)) for e in entries]
        if changes:
            batch.run(self, changes)
        return len(changes)

    def add_templates(self, identity_id: str, templates: Any) -> int:
        """Add templates to an enrolled identity, atomically; returns how many."""
        return batch.run(self, [Change.add(identity_id, templates)])[1][0]

    def delete(self, identity_id: str) -> int:
        """Delete an identity and all its templates; returns how many templates went."""
        return batch.run(self, [Change.delete(identity_id)])[1][0]

    def set_threshold(self, threshold: float | None) -> None:
        """Store the decision threshold (a cosine in (0, 1]; ``None`` clears it).

        Searches and verifications without an explicit threshold, the kiosk's match stage and
        ``biogate gallery`` use it — in every process, within ``refresh_s`` — wherever it is
        stricter than their own threshold: it can raise a decision threshold, never lower it.
        """
        batch.run(self, [Change.set_threshold(threshold)])

    def apply_changes(
        self, changes: Iterable[Change], change_id: int | None = None, *, replace: bool = False
    ) -> bool:
        """Apply a batch of :class:`Change` in one transaction (the fleet sync's entry point).

        Searches see the gallery before or after the whole batch, never between its changes.
        With ``change_id`` (an integer >= 0) the batch is applied once: unless the id is above
        :attr:`last_change_id` nothing is done and False is returned, else the id is stored with
        the batch.  ``replace=True`` (a full sync) first deletes every identity, so the gallery
        becomes exactly the batch.  A delete of an absent identity is a no-op; any other failure
        applies nothing.
        """
        return batch.run(self, changes, change_id, replace, strict_delete=False)[0]

    # -- matching --------------------------------------------------------------------------------
    def _decision_threshold(self, threshold: float | None) -> float | None:
        """An explicit threshold, else the stricter of the stored one and the gallery's own."""
        if threshold is not None:
            return threshold
        stored = self._view.state.threshold
        if stored is None or self.threshold is None:
            return self.threshold if stored is None else stored
        return max(stored, self.threshold)

    def _probes(self, embeddings: Any, what: str = "probe") -> np.ndarray:
        """Validated unit probes ``(m, stored dim)``: normalised, transformed when protected."""
        if self.dim is None:
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

    @staticmethod
    def _matches(view: View, result: Any) -> Matches:
        out = Matches()
        for hit in result.hits:
            person = view.people.get(hit.owner)
            if person is not None:  # None only for an identity deleted while this search ran
                out.append(Match(person.id, person.name, hit.score, hit.template_id.hex()))
        out.exact, out.shortlist = result.exact, result.shortlist
        return out

    def search(self, embedding: Any, k: int = 1, threshold: float | None = None) -> Matches:
        """1:N: the ``k`` identities most similar to ``embedding`` (cosine), best first.

        ``threshold`` (default: the stricter of the stored one and the gallery's) drops
        identities scoring below it; with no threshold at all the plain top-k is returned.
        """
        self._maybe_refresh()
        probe = self._probe(embedding)
        view = self._view
        return self._matches(view, view.index.search(probe, k, self._decision_threshold(threshold)))

    def search_many(self, embeddings: Any, k: int = 1, threshold: float | None = None) -> list[Matches]:
        """:meth:`search` for every row of ``(m, dim)`` embeddings (all faces of a frame) at once.

        One pass over the gallery serves all probes, so m faces cost far less than m searches.
        """
        self._maybe_refresh()
        arr = np.asarray(embeddings)
        if arr.ndim != 2:
            raise GalleryError(f"search_many takes an (m, {self.dim}) array of probes, got shape {arr.shape}")
        if len(arr) == 0:
            return []
        view = self._view
        thr = self._decision_threshold(threshold)
        return [self._matches(view, r) for r in view.index.search_many(self._probes(arr, "probes"), k, thr)]

    def verify(self, identity_id: str, embedding: Any, threshold: float | None = None) -> Verification:
        """1:1: is ``embedding`` the enrolled identity ``identity_id``?"""
        self._maybe_refresh()
        thr = self._decision_threshold(threshold)
        if thr is None:
            raise GalleryError("verify needs a threshold: pass threshold= or open the gallery with one")
        probe = self._probe(embedding)
        view = self._view
        hit = view.index.best_of(self._pk_of(view, identity_id), probe)
        if hit is None:
            raise GalleryError(f"identity {identity_id!r} has no templates")
        return Verification(identity_id, hit.score, float(thr), hit.score >= thr)
