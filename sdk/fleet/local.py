"""The one place the sync agent touches the kiosk's local gallery (an adapter, kept small).

It works through the gallery's public API (``identities``, ``apply_changes``): the kiosk's
running :class:`~biogate.gallery.Gallery` applies each batch in one transaction and updates its
in-memory index with it, so a batch is live, whole, for the next search as soon as
:meth:`LocalGallery.apply` returns.  Each
identity remembers the server change id it was written at (meta key :data:`VERSION_KEY`), which
lets a full sync skip what is already current, e.g. after a kiosk was killed mid-sync.

A batch is applied revocations first, then (re)enrolments.  The writes are idempotent (the
batch carries the identities' current state), so a batch interrupted half-way is simply
applied again.
"""

from __future__ import annotations

from typing import Iterable

from ..errors import FleetError
from ..gallery import Change, Gallery
from .feed import IdentityState

#: Meta key holding the server change id an identity was synced at.
VERSION_KEY = "fleet_version"


class LocalGallery:
    """Applies fleet batches to a local :class:`~biogate.gallery.Gallery`."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery

    def versions(self) -> dict[str, int]:
        """``identity id -> synced change id`` of every local identity (-1: not from the fleet)."""
        out = {}
        for ident in self.gallery.identities():
            version = ident.meta.get(VERSION_KEY)
            out[ident.id] = int(version) if isinstance(version, int) else -1
        return out

    def apply(self, upserts: Iterable[IdentityState], deletes: Iterable[str]) -> tuple[int, int]:
        """Delete ``deletes``, then (re)write ``upserts``; returns ``(written, deleted)``."""
        upserts = list(upserts)
        gone = [i for i in dict.fromkeys([*deletes, *(s.id for s in upserts)]) if i in self.gallery]
        if upserts:
            dim = self.gallery.dim
            if dim is not None and upserts[0].templates.shape[1] != dim:
                raise FleetError(
                    f"local gallery {self.gallery.path!r} holds {dim}-d templates but the site sends "
                    f"{upserts[0].templates.shape[1]}-d ones: give the kiosk a new gallery file"
                )
        changes = [Change.delete(i) for i in gone] + [
            Change.enroll(s.id, s.name, s.templates, {**s.meta, VERSION_KEY: s.version}) for s in upserts
        ]
        if changes:  # one transaction: a search never sees an upsert half done (deleted, not yet back)
            self.gallery.apply_changes(changes)
        return len(upserts), len(set(gone) - {s.id for s in upserts})
