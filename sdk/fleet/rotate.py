"""Re-key a site: every template re-sealed under a fresh data key, optionally under a new site key.

    version, n = rotate_site_key(admin, "hq", old_site_key)                 # routine rotation
    version, n = rotate_site_key(admin, "hq", old_site_key, new_site_key)   # a kiosk was stolen

One transaction: the site's row is locked (no enrolment interleaves), every data key version is
unwrapped with the current site key, every template is opened and sealed again under data key
``v+1`` (wrapped with ``new_site_key``, default the same key), the older data keys are deleted,
and each identity gets a change-log entry so every kiosk re-fetches it.  A kiosk that holds only
the old site key can no longer unwrap the site's data key: its sync fails (one error naming the
key) and, after ``max_staleness_s``, it fails closed.  What such a kiosk already synced stays in
its own encrypted gallery — rotation protects what is enrolled from then on.
"""

from __future__ import annotations

from typing import Any

from ..errors import FleetError
from ..gallery import GalleryKey
from .keys import SiteCipher, new_data_key, unwrap_data_key, wrap_data_key

_TEMP = "biogate_resealed"


def rotate_site_key(
    admin: Any, site_id: str, site_key: GalleryKey, new_site_key: GalleryKey | None = None
) -> tuple[int, int]:
    """Re-seal site ``site_id``; returns ``(new data key version, templates re-sealed)``.

    Args:
        admin: a :class:`~biogate.fleet.FleetAdmin` logged in as an enrolment role or the owner.
        site_key: the key the site's data keys are wrapped with now.
        new_site_key: the key to wrap the new data key with (default ``site_key``).
    """
    wrap_key = new_site_key or site_key

    def do(cur: Any) -> tuple[int, int]:
        cur.execute("SELECT 1 FROM fleet.sites WHERE id = %s FOR UPDATE", (site_id,))
        if cur.fetchone() is None:
            raise FleetError(f"site {site_id!r} does not exist")
        cur.execute("SELECT version, wrapped FROM fleet.site_keys WHERE site_id = %s", (site_id,))
        old = {
            int(v): SiteCipher(site_id, v, unwrap_data_key(site_key, site_id, v, w))
            for v, w in cur.fetchall()
        }
        version = max(old, default=0) + 1
        data_key = new_data_key()
        new = SiteCipher(site_id, version, data_key)
        cur.execute(
            "INSERT INTO fleet.site_keys(site_id, version, wrapped) VALUES (%s, %s, %s)",
            (site_id, version, wrap_data_key(wrap_key, site_id, version, data_key)),
        )
        cur.execute(
            f"CREATE TEMP TABLE {_TEMP} (identity_id text, tid bytea, nonce bytea, ciphertext bytea) "
            "ON COMMIT DROP"
        )
        cur.execute(
            "SELECT identity_id, tid, key_version, nonce, ciphertext FROM fleet.templates WHERE site_id = %s",
            (site_id,),
        )
        rows = cur.fetchall()
        with cur.copy(f"COPY {_TEMP} (identity_id, tid, nonce, ciphertext) FROM STDIN") as copy:
            for ident, tid, kv, nonce, ct in rows:
                cipher = old.get(int(kv))
                if cipher is None:
                    raise FleetError(f"template of {ident!r} at site {site_id!r} uses unknown data key v{kv}")
                copy.write_row((ident, tid, *new.seal(ident, tid, cipher.open(ident, tid, nonce, ct))))
        cur.execute(
            f"UPDATE fleet.templates AS t SET key_version = %s, nonce = r.nonce, ciphertext = r.ciphertext "
            f"FROM {_TEMP} AS r WHERE t.site_id = %s AND t.identity_id = r.identity_id AND t.tid = r.tid",
            (version, site_id),
        )
        if cur.rowcount != len(rows):
            raise FleetError(
                f"site {site_id!r}: {cur.rowcount} of {len(rows)} templates re-sealed; rolled back"
            )
        cur.execute("DELETE FROM fleet.site_keys WHERE site_id = %s AND version < %s", (site_id, version))
        cur.execute("SELECT id FROM fleet.identities WHERE site_id = %s ORDER BY id", (site_id,))
        log_changes(cur, site_id, "update", [r[0] for r in cur.fetchall()])
        return version, len(rows)

    return admin._run(f"re-keying site {site_id!r}", do)


def log_changes(cur: Any, site_id: str, op: str, ids: list[str], bump: bool = True) -> dict[str, int]:
    """One change-log entry per identity (in ``ids`` order); returns identity -> change id.

    With ``bump`` each identity's version becomes its change id, so kiosks re-fetch it.
    """
    if not ids:
        return {}
    cur.execute(
        "INSERT INTO fleet.changes(site_id, identity_id, op) "
        "SELECT %s, x, %s FROM unnest(%s::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n "
        "RETURNING identity_id, change_id",
        (site_id, op, ids),
    )
    version = dict(cur.fetchall())
    if bump:
        cur.execute(
            "UPDATE fleet.identities AS i SET version = v.version FROM "
            "unnest(%s::text[], %s::bigint[]) AS v(id, version) WHERE i.site_id = %s AND i.id = v.id",
            (ids, [version[i] for i in ids], site_id),
        )
    return version
