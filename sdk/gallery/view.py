"""The verified in-memory gallery that searches read, and the checks that build it from rows.

A :class:`View` always equals one authenticated state of the database: its identities, their
templates in the search index, and the state record (generation, counts, digest, threshold).
It changes only by :meth:`View.apply` of a :class:`Delta` — a whole transaction's worth of
rows, checked before anything is published — so a search never sees half of a change.

:class:`RowChecker` turns rows read from the store into a :class:`Delta`: it checks each
row's types, decrypts every template (AES-GCM names the row that fails), adds up the rows'
keyed digest values and compares counts and digest with the state record.  A mismatch is a
:class:`Mismatch`, which the gallery answers with a full reload (after a delta) or reports.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

from ..errors import GalleryError
from .crypto import TemplateCipher
from .index import TemplateIndex, normalise
from .integrity import MOD, GalleryState, RowDigest, open_state
from .records import Identity
from .store import GalleryStore, IdentityRecord, TemplateRecord


class Person(NamedTuple):
    """One enrolled identity as held in memory."""

    pk: int  # row key (never reused)
    id: str
    name: str
    meta_json: str
    created: float
    n_templates: int
    contrib: int  # this identity's share of the digest: its row and all its templates

    def identity(self) -> Identity:
        return Identity(self.id, self.name, json.loads(self.meta_json), self.n_templates, self.created)


class Delta(NamedTuple):
    """A checked change to a :class:`View`: what one or more transactions did."""

    state: GalleryState
    removed: list[int]  # identity row keys
    people: list[Person]  # new identities, and identities with new templates
    owners: np.ndarray  # owner row key of each new template
    tids: list[bytes]
    unit: np.ndarray | None  # (n, dim) unit rows of the new templates
    high_water: tuple[int, int]  # highest identity and template row keys the view now covers


class Mismatch(GalleryError):
    """Rows and the authenticated state disagree (counts or digest)."""

    def __init__(self, text: str, counts: tuple[int, int], present: Iterable[int]) -> None:
        super().__init__(text)
        self.counts = counts  # (identities, templates) found
        self.present = set(present)  # identity row keys found


class View:
    """Identities, index and state of one verified generation of a gallery."""

    def __init__(self, state: GalleryState, backend: str, max_shortlist: int) -> None:
        self.state = state
        self.people: dict[int, Person] = {}
        self.pks: dict[str, int] = {}
        self.high_water = (0, 0)
        self._backend, self._max_shortlist = backend, max_shortlist
        self.index = TemplateIndex(state.dim or 1, backend, max_shortlist)

    def apply(self, delta: Delta) -> None:
        """Publish a checked delta: new names first, then one index swap, then removals."""
        for person in delta.people:  # a hit on a row key not yet named would only be dropped
            self.people[person.pk] = person
            self.pks[person.id] = person.pk
        if delta.unit is not None and self.index.dim != delta.unit.shape[1]:
            self.index = TemplateIndex(delta.unit.shape[1], self._backend, self._max_shortlist)
        self.index.update(delta.removed, delta.owners, delta.tids, delta.unit)
        for pk in delta.removed:  # after the swap: a removed identity can no longer be hit
            gone = self.people.pop(pk, None)
            if gone is not None and self.pks.get(gone.id) == pk:
                del self.pks[gone.id]
        self.state = delta.state
        self.high_water = delta.high_water


_IDENTITY_TYPES = (int, str, str, str, (int, float))  # pk, id, name, meta JSON, created
_TEMPLATE_TYPES = (int, int, bytes, bytes, bytes, (int, float))  # pk, owner, tid, nonce, ciphertext, created


def _typed(row: Sequence[Any], types: Sequence[Any]) -> bool:
    return len(row) == len(types) and all(isinstance(v, t) for v, t in zip(row, types))


def _where(pk: Any, ident: Any) -> str:
    return f"identity {ident!r}" if isinstance(ident, str) else f"identity row {pk!r}"


class RowChecker:
    """Checks rows of one gallery against its authenticated state and builds deltas."""

    def __init__(self, path: str, cipher: TemplateCipher, digest: RowDigest) -> None:
        self.path = path
        self._cipher = cipher
        self._digest = digest

    def _identity(self, row: IdentityRecord) -> Person:
        pk, ident, name, meta, created = row
        what = f"{_where(pk, ident)} of gallery {self.path!r}"
        if not _typed(row, _IDENTITY_TYPES):
            raise GalleryError(f"{what} has a field of the wrong type (damaged or edited outside biogate)")
        try:
            if not isinstance(json.loads(meta), dict):
                raise ValueError("not an object")
        except ValueError:
            raise GalleryError(
                f"{what}: its metadata is not a JSON object (damaged or edited outside biogate)"
            ) from None
        created = float(created)
        f = self._digest.identity(pk, ident, name, meta, created)
        return Person(pk, ident, name, meta, created, 0, f)

    def build(
        self,
        base: View,
        state: GalleryState,
        removed: Sequence[int],
        identity_rows: Sequence[IdentityRecord],
        template_rows: Sequence[TemplateRecord],
        high_water: tuple[int, int],
    ) -> Delta:
        """The delta that takes ``base`` to ``state`` given the rows added since ``base``."""
        gone = [pk for pk in dict.fromkeys(removed) if pk in base.people]
        new = {}
        for row in identity_rows:
            person = self._identity(row)
            if person.pk in base.people or person.pk in new:
                raise Mismatch(f"identity row {person.pk} of gallery {self.path!r} appears twice", (0, 0), ())
            new[person.pk] = person
        changed: dict[int, Person] = {}
        owners: list[int] = []
        tids: list[bytes] = []
        raw: list[bytes] = []
        orphans = 0
        for row in template_rows:
            pk, owner, tid, nonce, ct, created = row
            if not _typed(row, _TEMPLATE_TYPES):
                raise GalleryError(
                    f"template row {pk!r} of gallery {self.path!r} has a field of the wrong type "
                    "(damaged or edited outside biogate)"
                )
            person = changed.get(owner) or new.get(owner)
            if person is None and owner not in gone:
                person = base.people.get(owner)
            if person is None:
                orphans += 1
                continue
            raw.append(self._cipher.open(person.id, tid, nonce, ct))  # names the row that fails
            f = self._digest.template(owner, tid, nonce, ct, float(created))
            changed[owner] = person._replace(n_templates=person.n_templates + 1, contrib=person.contrib + f)
            owners.append(owner)
            tids.append(tid)
        people = {**new, **changed}
        digest = base.state.digest  # 0 for the empty view a full load starts from
        digest -= sum(base.people[pk].contrib for pk in gone)
        digest += sum(p.contrib for p in people.values())
        digest -= sum(base.people[pk].contrib for pk in changed if pk in base.people)
        n_ids = base.state.identities - len(gone) + len(new)
        n_tpl = base.state.templates - sum(base.people[pk].n_templates for pk in gone) + len(owners) + orphans
        unit = self._units(raw, state)
        present = (set(base.people) - set(gone)) | set(new)
        if orphans:
            text = f"{orphans} template(s) of gallery {self.path!r} belong to no identity"
            raise Mismatch(text, (n_ids, n_tpl), present)
        if (n_ids, n_tpl) != (state.identities, state.templates):
            raise Mismatch(
                f"gallery {self.path!r} holds {n_ids} identities and {n_tpl} templates, but its "
                f"authenticated state (generation {state.generation}) records {state.identities} and "
                f"{state.templates}",
                (n_ids, n_tpl),
                present,
            )
        if digest % MOD != state.digest:
            raise Mismatch(
                f"rows of gallery {self.path!r} were changed outside biogate: names, metadata or "
                f"templates do not match its authenticated state (generation {state.generation})",
                (n_ids, n_tpl),
                present,
            )
        return Delta(state, gone, list(people.values()), np.asarray(owners, np.int64), tids, unit, high_water)

    def _units(self, raw: list[bytes], state: GalleryState) -> np.ndarray | None:
        if not raw:
            return None
        dim = state.dim
        if dim is None or any(len(r) != 4 * dim for r in raw):
            raise GalleryError(
                f"templates of gallery {self.path!r} do not have the {dim}-d size its state records"
            )
        vectors = np.frombuffer(b"".join(raw), "<f4").reshape(len(raw), dim)
        return normalise(vectors, dim, f"a stored template of gallery {self.path!r}")


class Loader:
    """Reads a gallery's rows into verified views: a full load, or a delta since a view."""

    def __init__(
        self,
        store: GalleryStore,
        checker: RowChecker,
        cipher: TemplateCipher,
        backend: str,
        max_shortlist: int,
    ) -> None:
        self.path = store.path
        self._store, self._checker, self._cipher = store, checker, cipher
        self._backend, self._max_shortlist = backend, max_shortlist

    def state(self, db: Any) -> GalleryState:
        record = self._store.meta_value(db, "state")
        if record is None:
            raise GalleryError(f"gallery {self.path!r} has no state record (damaged file?)")
        return open_state(self._cipher, record, self.path)

    def full(self, db: Any = None) -> View:
        """Read every row and check it against the authenticated state: a fresh :class:`View`."""
        if db is None:  # read in one snapshot, then decrypt without holding the lock
            with self._store.read() as snapshot:
                rows = self._read_all(snapshot)
            return self._build_full(rows)
        return self._build_full(self._read_all(db))

    def _read_all(self, db: Any) -> tuple:
        s = self._store
        return self.state(db), s.identity_rows(db), s.template_rows(db), s.high_water(db)

    def _build_full(self, rows: tuple) -> View:
        state, identities, templates, high_water = rows
        view = View(GalleryState(dim=state.dim), self._backend, self._max_shortlist)
        try:
            delta = self._checker.build(view, state, (), identities, templates, high_water)
        except Mismatch as exc:
            raise self._name_missing(exc) from None
        view.apply(delta)
        return view

    def _name_missing(self, exc: Mismatch) -> GalleryError:
        """The mismatch, with the ids the change log says should be there and are not."""
        with self._store.read() as db:
            logged = self._store.enrolled_by_log(db)
        missing = [ident for pk, ident in logged.items() if pk not in exc.present]
        text = str(exc)
        if missing:
            shown = ", ".join(repr(m) for m in missing[:8])
            more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
            text += f"; missing: {shown}{more}"
        return GalleryError(text + " — refusing to open it (restore it from a backup or re-enrol)")

    def sync(self, view: View, db: Any) -> tuple[View, GalleryState]:
        """``view`` brought up to the state in ``db``: updated in place by a delta, or a new one."""
        state = self.state(db)
        if state == view.state:
            return view, state
        if state.generation <= view.state.generation:
            raise GalleryError(
                f"gallery {self.path!r} went from generation {view.state.generation} to {state.generation}: "
                "it was replaced by another copy while open; refusing it"
            )
        if state.log_from > view.state.generation:  # the log no longer reaches back to this view
            return self.full(db), state
        s = self._store
        removed = s.deleted_since(db, view.state.generation)
        identities = s.identity_rows(db, view.high_water[0])
        templates = s.template_rows(db, view.high_water[1])
        try:
            delta = self._checker.build(view, state, removed, identities, templates, s.high_water(db))
        except Mismatch:  # the log and the rows disagree: check everything from scratch
            return self.full(db), state
        view.apply(delta)
        return view, state
