"""One writing transaction of a gallery: check the input, write rows, seal the new state, publish.

Every write of :class:`~biogate.gallery.Gallery` (enrol, add templates, delete, set the
threshold, a fleet batch) is a list of :class:`~biogate.gallery.records.Change` run here in
ONE ``BEGIN IMMEDIATE`` transaction.  Inside it the writer first catches up with what other
processes committed (so it never works from a stale view), then checks against the database
itself that each identity it extends or deletes is still the one it knows — the same id *and*
the same row key — and adds or subtracts the keyed digest of exactly the rows it touches.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

import numpy as np

from ..errors import GalleryError
from .index import normalise
from .integrity import MOD, seal_state
from .records import OPS, Change
from .view import Delta, Person

if TYPE_CHECKING:
    from .gallery import Gallery

_MAX_ID = 128
_TID_BYTES = 16


def check_identity(identity_id: Any, name: Any) -> None:
    if not isinstance(identity_id, str) or not 0 < len(identity_id) <= _MAX_ID:
        raise GalleryError(f"identity id must be a string of 1..{_MAX_ID} characters, got {identity_id!r}")
    if any(ord(c) < 32 for c in identity_id) or identity_id != identity_id.strip():
        raise GalleryError(f"identity id {identity_id!r} has control characters or surrounding spaces")
    if not isinstance(name, str):
        raise GalleryError(f"name of identity {identity_id!r} must be a string, got {type(name).__name__}")


def check_threshold(value: Any, where: str = "threshold") -> float:
    """A cosine decision threshold: a number in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
        raise GalleryError(f"{where} must be a cosine in (0, 1], got {value!r}")
    return float(value)


class _Op(NamedTuple):
    op: str
    identity_id: str
    name: str
    meta_json: str
    raw: np.ndarray | None  # float32 rows as stored (protected ones for a cancelable gallery)
    unit: np.ndarray | None  # the same, L2-normalised, for the index
    threshold: float | None


def _templates(gallery: Gallery, identity_id: str, templates: Any, dim: int | None) -> tuple:
    arr = np.asarray(templates)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise GalleryError(
            f"templates of {identity_id!r} must be one vector or an (n, dim) array, got {arr.shape}"
        )
    arr2 = np.atleast_2d(arr)
    unit = normalise(arr2, dim if dim is not None else arr2.shape[1], f"template of {identity_id!r}")
    if gallery.transform is not None:  # only the protected form is ever stored
        arr2 = gallery.transform.apply(arr2)
        unit = normalise(arr2, arr2.shape[1])
    return np.ascontiguousarray(arr2, dtype="<f4"), unit


def prepare(gallery: Gallery, changes: Iterable[Any]) -> list[_Op]:
    """Check every change before anything is written (ids, templates, metadata, thresholds)."""
    ops = []
    dim = gallery.dim
    for change in changes:
        try:
            c = change if isinstance(change, Change) else Change(*change)
        except TypeError:
            raise GalleryError(
                f"a gallery change is a Change or (op, identity_id, ...), got {change!r}"
            ) from None
        if not isinstance(c.op, str) or c.op not in OPS:
            raise GalleryError(f"unknown gallery change {c.op!r}; valid: {', '.join(OPS)}")
        raw = unit = None
        meta_json, threshold = "{}", None
        if c.op == "threshold":
            threshold = None if c.threshold is None else check_threshold(c.threshold, "gallery threshold")
        else:
            check_identity(c.identity_id, c.name)
        if c.op in ("enroll", "add"):
            raw, unit = _templates(gallery, c.identity_id, c.templates, dim)
            dim = dim if dim is not None else unit.shape[1]
        if c.op == "enroll":
            try:
                meta_json = json.dumps(dict(c.meta or {}), sort_keys=True, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise GalleryError(f"metadata of {c.identity_id!r} cannot be stored as JSON: {exc}") from None
        ops.append(_Op(c.op, c.identity_id, c.name, meta_json, raw, unit, threshold))
    return ops


class _Batch:
    """The running totals of one transaction (see :func:`run`)."""

    def __init__(self, gallery: Gallery, db: Any, known: set[str]) -> None:
        self.g, self.db, self.known = gallery, db, known
        self.view = gallery._view
        self.state = self.view.state
        s = self.state
        self.digest, self.n_ids, self.n_tpl, self.threshold, self.dim = (
            s.digest,
            s.identities,
            s.templates,
            s.threshold,
            s.dim,
        )
        self.touched: dict[str, Person] = {}  # identities new or changed here, still enrolled
        self.gone: set[str] = set()  # ids deleted here
        self.removed: list[int] = []  # row keys of the view's identities deleted here
        self.rows: list[tuple[int, list[bytes], np.ndarray]] = []  # new templates: owner, tids, unit
        self.log: list[tuple[str, int, str]] = []
        self.counts: list[int] = []
        self.now = time.time()

    def current(self, identity_id: str) -> Person | None:
        if identity_id in self.touched:
            return self.touched[identity_id]
        if identity_id in self.gone:
            return None
        pk = self.view.pks.get(identity_id)
        return None if pk is None else self.view.people[pk]

    def _absent(self, identity_id: str) -> GalleryError:
        known = identity_id in self.known
        why = " (another process deleted it since this gallery was loaded)" if known else ""
        return GalleryError(f"identity {identity_id!r} is not enrolled in {self.g.path!r}{why}")

    def _check_row(self, person: Person) -> None:
        # The database itself, inside this transaction: the same id must still have the same row key.
        if self.g._store.identity_pk(self.db, person.id) != person.pk:
            raise GalleryError(
                f"identity {person.id!r} of gallery {self.g.path!r} is not the row this gallery holds "
                "(changed outside biogate); nothing was written"
            )

    def replace_all(self) -> None:
        for person in self.view.people.values():
            self.log.append(("delete", person.pk, person.id))
            self.removed.append(person.pk)
        self.g._store.delete_all(self.db)
        self.gone = set(self.view.pks)
        self.digest = self.n_ids = self.n_tpl = 0

    def seal_templates(self, person: Person, op: _Op) -> Person:
        raw = op.raw
        if self.dim is None:
            self.dim = raw.shape[1]
        elif raw.shape[1] != self.dim:
            raise GalleryError(
                f"templates of {op.identity_id!r} are {raw.shape[1]}-d; gallery {self.g.path!r} holds "
                f"{self.dim}-d templates"
            )
        tids = [os.urandom(_TID_BYTES) for _ in range(len(raw))]
        seal, f = self.g._cipher.seal, self.g._digest.template
        sealed = [(tid, *seal(person.id, tid, row.tobytes())) for tid, row in zip(tids, raw)]
        self.g._store.insert_templates(self.db, person.pk, sealed, self.now)
        added = sum(f(person.pk, tid, nonce, ct, self.now) for tid, nonce, ct in sealed)
        self.digest += added
        self.n_tpl += len(tids)
        self.rows.append((person.pk, tids, op.unit))
        self.counts.append(len(tids))
        return person._replace(n_templates=person.n_templates + len(tids), contrib=person.contrib + added)

    def apply(self, op: _Op, strict_delete: bool) -> None:
        ident = op.identity_id
        if op.op == "threshold":
            self.threshold = op.threshold
            return
        person = self.current(ident)
        if op.op == "enroll":
            if person is not None:
                raise GalleryError(f"identity {ident!r} is already enrolled (use add_templates)")
            pk = self.g._store.insert_identity(self.db, ident, op.name, op.meta_json, self.now)
            f = self.g._digest.identity(pk, ident, op.name, op.meta_json, self.now)
            person = Person(pk, ident, op.name, op.meta_json, self.now, 0, f)
            self.digest += f
            self.n_ids += 1
            self.log.append(("enroll", pk, ident))
            self.touched[ident] = self.seal_templates(person, op)
        elif op.op == "add":
            if person is None:
                raise self._absent(ident)
            self._check_row(person)
            self.log.append(("add", person.pk, ident))
            self.touched[ident] = self.seal_templates(person, op)
        elif person is None:  # delete
            if strict_delete:
                raise self._absent(ident)
        else:
            self._check_row(person)
            count = self.g._store.delete_identity(self.db, person.pk)
            if count != person.n_templates:
                raise GalleryError(
                    f"identity {ident!r} of gallery {self.g.path!r} has {count} templates in the database "
                    f"but {person.n_templates} were verified (changed outside biogate); nothing was deleted"
                )
            self.digest -= person.contrib
            self.n_ids -= 1
            self.n_tpl -= count
            self.touched.pop(ident, None)
            self.gone.add(ident)
            if self.view.people.get(person.pk) is not None:
                self.removed.append(person.pk)
            self.rows = [r for r in self.rows if r[0] != person.pk]
            self.log.append(("delete", person.pk, ident))
            self.counts.append(count)

    def commit_state(self, change_id: int | None) -> Delta:
        """Write the change log and the new sealed state; the delta to publish after COMMIT."""
        store, s = self.g._store, self.state
        generation = s.generation + 1
        state = s._replace(
            generation=generation,
            identities=self.n_ids,
            templates=self.n_tpl,
            digest=self.digest % MOD,
            dim=self.dim,
            threshold=self.threshold,
            last_change_id=s.last_change_id if change_id is None else change_id,
        )
        if s.dim is None and self.dim is not None:
            store.set_meta(self.db, "dim", str(self.dim).encode())
        store.log(self.db, generation, self.log)
        floor = store.prune_log(self.db)
        if floor is not None:
            state = state._replace(log_from=floor)
        store.set_meta(self.db, "state", seal_state(self.g._cipher, state))
        unit = owners = None
        if self.rows:
            unit = np.vstack([u for *_, u in self.rows])
            owners = np.concatenate([np.full(len(t), pk, np.int64) for pk, t, _ in self.rows])
        tids = [t for _, ts, _ in self.rows for t in ts]
        people = list(self.touched.values())
        return Delta(state, self.removed, people, owners, tids, unit, store.high_water(self.db))


def run(
    gallery: Gallery,
    changes: Iterable[Any],
    change_id: int | None = None,
    replace: bool = False,
    strict_delete: bool = True,
) -> tuple[bool, list[int]]:
    """Apply ``changes`` in one transaction; ``(applied, templates added/deleted per change)``.

    With ``change_id``, a batch whose id is not above the stored ``last_change_id`` changes
    nothing and returns ``(False, [])``.  ``replace`` first deletes every identity.
    """
    if change_id is not None and (
        isinstance(change_id, bool) or not isinstance(change_id, int) or change_id < 0
    ):
        raise GalleryError(f"a change id is an integer >= 0, got {change_id!r}")
    store = gallery._store
    with store.lock:
        ops = prepare(gallery, changes)
        known = {op.identity_id for op in ops if op.identity_id in gallery._view.pks}
        with store.write() as db:
            gallery._sync(db)
            batch = _Batch(gallery, db, known)
            last = batch.state.last_change_id
            if change_id is not None and last is not None and change_id <= last:
                return False, []
            if replace:
                batch.replace_all()
            for op in ops:
                batch.apply(op, strict_delete)
            delta = batch.commit_state(change_id)
        gallery._view.apply(delta)  # committed: publish (in memory, cannot fail half-way)
        return True, batch.counts
