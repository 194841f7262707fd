"""What a kiosk reads from the fleet server: who it is, its site's data keys, snapshots and deltas.

Every read runs in one REPEATABLE READ, READ ONLY transaction, so a batch of identities and the
change id it is current to come from the same snapshot.  Row-level security already limits a
kiosk role to its own site; the queries name the site as well, for the indexes.

A delta is *state-based*: the changes after ``last`` tell which identities changed, and the
batch carries those identities as they are now (present with their templates, or gone).  So
applying a batch twice, or a batch that overlaps one applied before, gives the same gallery.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, NamedTuple

import numpy as np

from ..errors import FleetError
from ..gallery import GalleryKey
from .keys import SiteCipher, unwrap_data_key


class IdentityState(NamedTuple):
    """One identity as the server has it now, templates decrypted."""

    id: str
    name: str
    meta: dict[str, Any]
    version: int
    templates: np.ndarray


class Batch(NamedTuple):
    """Changes up to ``upto``: identities to (re)write and identity ids to delete."""

    upto: int
    upserts: list[IdentityState]
    deletes: list[str]


class Whoami(NamedTuple):
    kiosk_id: str
    site_id: str
    dim: int | None


_STATE_SQL = (
    "SELECT i.id, i.name, i.meta, i.version, array_agg(t.tid ORDER BY t.tid), "
    "array_agg(t.key_version ORDER BY t.tid), array_agg(t.nonce ORDER BY t.tid), "
    "array_agg(t.ciphertext ORDER BY t.tid) "
    "FROM fleet.identities i JOIN fleet.templates t ON t.site_id = i.site_id AND t.identity_id = i.id "
    "WHERE i.site_id = %s {where} GROUP BY i.site_id, i.id ORDER BY i.id"
)


class SiteFeed:
    """Reads for one kiosk over a connection logged in as that kiosk's role."""

    def __init__(self, conn: Any, site_key: GalleryKey) -> None:
        self.conn = conn
        self.site_key = site_key
        self.who = self._whoami()
        self._ciphers: dict[int, SiteCipher] = {}
        self._load_keys()

    def _read(self):
        return self.conn.transaction()

    def _whoami(self) -> Whoami:
        with self._read(), self.conn.cursor() as cur:
            cur.execute(
                "SELECT k.id, k.site_id, s.dim FROM fleet.kiosks k JOIN fleet.sites s ON s.id = k.site_id "
                "WHERE k.role_name = current_user"
            )
            row = cur.fetchone()
        if row is None:
            raise FleetError("this database role is not a registered kiosk (`biogate fleet kiosk add`)")
        return Whoami(row[0], row[1], row[2])

    def _load_keys(self) -> None:
        site = self.who.site_id
        with self._read(), self.conn.cursor() as cur:
            cur.execute("SELECT version, wrapped FROM fleet.site_keys WHERE site_id = %s", (site,))
            rows = cur.fetchall()
        if not rows:
            raise FleetError(f"site {site!r} has no data key on the server")
        for version, wrapped in rows:
            self._ciphers[version] = SiteCipher(
                site, version, unwrap_data_key(self.site_key, site, version, wrapped)
            )

    def _states(self, rows: list[tuple]) -> list[IdentityState]:
        out = []
        for ident, name, meta, version, tids, kvs, nonces, cts in rows:
            vectors = []
            for tid, kv, nonce, ct in zip(tids, kvs, nonces, cts):
                cipher = self._ciphers.get(kv)
                if cipher is None:
                    self._load_keys()  # a data key added since we connected
                    cipher = self._ciphers.get(kv)
                if cipher is None:
                    raise FleetError(f"template of {ident!r} uses unknown data key v{kv}")
                vectors.append(cipher.open(ident, tid, nonce, ct))
            meta = meta if isinstance(meta, dict) else json.loads(meta or "{}")
            out.append(IdentityState(ident, name, meta, int(version), np.stack(vectors)))
        return out

    def head(self) -> int:
        """The site's newest change id (0 before its first change)."""
        with self._read(), self.conn.cursor() as cur:
            return self._head(cur)

    def _head(self, cur: Any) -> int:
        cur.execute(
            "SELECT coalesce(max(change_id), 0) FROM fleet.changes WHERE site_id = %s", (self.who.site_id,)
        )
        return int(cur.fetchone()[0])

    def snapshot(self, local: dict[str, int], chunk: int = 2000) -> Iterator[Batch]:
        """The whole site from one snapshot, as batches against the ``local`` id -> version map.

        The first batch deletes the local identities the server no longer has (revocations
        first); then come, ``chunk`` at a time, the identities whose version differs from the
        local one (nothing is decrypted for the others).  Every batch's ``upto`` is the
        snapshot's change id; the last batch is empty and marks the snapshot complete.
        """
        site = self.who.site_id
        with self._read():
            with self.conn.cursor() as cur:
                upto = self._head(cur)
                cur.execute("SELECT id, version FROM fleet.identities WHERE site_id = %s", (site,))
                remote = dict(cur.fetchall())
            yield Batch(upto, [], sorted(set(local) - set(remote)))
            wanted = {i for i, v in remote.items() if local.get(i) != v}
            if wanted:
                with self.conn.cursor(name="biogate_snapshot") as cur:
                    cur.itersize = chunk
                    cur.execute(_STATE_SQL.format(where=""), (site,))
                    while True:
                        rows = cur.fetchmany(chunk)
                        if not rows:
                            break
                        rows = [r for r in rows if r[0] in wanted]
                        if rows:
                            yield Batch(upto, self._states(rows), [])
        yield Batch(upto, [], [])

    def delta(self, after: int, limit: int = 2000) -> Batch:
        """The changes after ``after`` (at most ``limit``) as identity states; ``upto`` is the last one."""
        site = self.who.site_id
        with self._read(), self.conn.cursor() as cur:
            cur.execute(
                "SELECT change_id, identity_id FROM fleet.changes WHERE site_id = %s AND change_id > %s "
                "ORDER BY change_id LIMIT %s",
                (site, after, limit),
            )
            changes = cur.fetchall()
            if not changes:
                return Batch(after, [], [])
            ids = sorted({c[1] for c in changes})
            cur.execute(_STATE_SQL.format(where="AND i.id = ANY(%s)"), (site, ids))
            states = self._states(cur.fetchall())
        present = {s.id for s in states}
        return Batch(int(changes[-1][0]), states, [i for i in ids if i not in present])
