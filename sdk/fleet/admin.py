"""Central administration of the fleet: sites, kiosks, users, enrolment and revocation.

    admin = FleetAdmin.connect(dsn)                      # an enrolment role (or the owner)
    admin.add_site("hq", "Head office", site_key)        # wraps a fresh data key with the site key
    admin.enroll_many("hq", site_key, [Enrollment("E042", "Ada", templates)])
    admin.delete("hq", "E042", reason="left the company")  # every kiosk of hq follows in seconds

Templates are encrypted here, before they leave the enrolment station; the server stores
ciphertexts and the wrapped data key only (:mod:`biogate.fleet.keys`).  Creating kiosks and
users needs a role with CREATEROLE (the database owner), enrolment only the enrolment role.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from base64 import b64encode
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import FleetError
from ..gallery import Enrollment, GalleryKey
from ..gallery.index import normalise
from .db import connect, copy_in, describe, pg
from .keys import SiteCipher, new_data_key, unwrap_data_key, wrap_data_key
from .rotate import log_changes, rotate_site_key
from .schema import ID_RE, group_roles, kiosk_role, role_prefix

_TID_BYTES = 16


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, so the password itself never reaches the server."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(client_key).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    return (
        f"SCRAM-SHA-256${iterations}:{b64encode(salt).decode()}"
        f"${b64encode(stored).decode()}:{b64encode(server).decode()}"
    )


def check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise FleetError(f"{what} {value!r} must match {ID_RE.pattern}")
    return value


def write_secret(path: str, text: str) -> None:
    """Write a password or key to a new file readable by its owner only; never overwrites."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FleetError(f"{path!r} already exists; refusing to overwrite a secret") from None
    except OSError as exc:
        raise FleetError(f"cannot create {path!r}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")


class FleetAdmin:
    """Administrative operations over one psycopg connection (see the module docstring)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.prefix = role_prefix(conn)
        conn.commit()

    @classmethod
    def connect(cls, dsn: str, **options: Any) -> FleetAdmin:
        return cls(connect(dsn, application_name="biogate-fleet-admin", **options))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> FleetAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self):
        return self.conn.transaction()

    def _run(self, what: str, fn: Any) -> Any:
        psycopg = pg()
        try:
            with self._tx():
                return fn(self.conn.cursor())
        except psycopg.errors.InsufficientPrivilege:
            raise FleetError(f"{what}: this database role is not allowed to do that") from None
        except psycopg.Error as exc:
            raise FleetError(f"{what}: {describe(exc)}") from None

    # -- sites, kiosks, users ----------------------------------------------------------------
    def add_site(self, site_id: str, name: str, site_key: GalleryKey, dim: int | None = None) -> None:
        """Create a site with a fresh data key wrapped under ``site_key`` (which stays here)."""
        check_id(site_id, "site id")
        wrapped = wrap_data_key(site_key, site_id, 1, new_data_key())

        def do(cur: Any) -> None:
            cur.execute("SELECT 1 FROM fleet.sites WHERE id = %s", (site_id,))
            if cur.fetchone() is not None:
                raise FleetError(f"site {site_id!r} already exists")
            cur.execute("INSERT INTO fleet.sites(id, name, dim) VALUES (%s, %s, %s)", (site_id, name, dim))
            cur.execute(
                "INSERT INTO fleet.site_keys(site_id, version, wrapped) VALUES (%s, 1, %s)",
                (site_id, wrapped),
            )

        self._run(f"adding site {site_id!r}", do)

    def sites(self) -> list[dict[str, Any]]:
        def do(cur: Any) -> list[dict[str, Any]]:
            cur.execute(
                "SELECT s.id, s.name, s.dim, "
                "(SELECT count(*) FROM fleet.identities i WHERE i.site_id = s.id) "
                "FROM fleet.sites s ORDER BY s.id"
            )
            return [{"id": r[0], "name": r[1], "dim": r[2], "identities": r[3]} for r in cur.fetchall()]

        return self._run("listing sites", do)

    def _create_login(self, cur: Any, role: str, group: str, password: str | None) -> str:
        from psycopg import sql

        password = password or secrets.token_urlsafe(24)
        cur.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(role), sql.Literal(scram_verifier(password)), sql.Identifier(group)
            )
        )
        return password

    def add_kiosk(self, kiosk_id: str, site_id: str, password: str | None = None) -> tuple[str, str]:
        """Create a kiosk and its login role; returns ``(role name, password)`` (show it once)."""
        check_id(kiosk_id, "kiosk id")
        role = kiosk_role(self.prefix, kiosk_id)

        def do(cur: Any) -> str:
            cur.execute("SELECT 1 FROM fleet.sites WHERE id = %s", (site_id,))
            if cur.fetchone() is None:
                raise FleetError(f"site {site_id!r} does not exist (add it with `biogate fleet site add`)")
            secret = self._create_login(cur, role, group_roles(self.prefix)["kiosk"], password)
            cur.execute(
                "INSERT INTO fleet.kiosks(id, site_id, role_name) VALUES (%s, %s, %s)",
                (kiosk_id, site_id, role),
            )
            return secret

        return role, self._run(f"adding kiosk {kiosk_id!r}", do)

    def add_user(self, name: str, group: str, password: str | None = None) -> str:
        """Create a login role in the ``enrol`` or ``audit`` group; returns its password."""
        groups = group_roles(self.prefix)
        if group not in ("enrol", "audit"):
            raise FleetError(f"user group {group!r} must be enrol or audit (kiosks: `fleet kiosk add`)")
        check_id(name, "user name")
        return self._run(
            f"adding user {name!r}", lambda cur: self._create_login(cur, name, groups[group], password)
        )

    # -- enrolment ------------------------------------------------------------------------------
    def site_cipher(self, site_id: str, site_key: GalleryKey) -> SiteCipher:
        """The cipher of the site's newest data key, unwrapped here with ``site_key``."""

        def do(cur: Any) -> Any:
            cur.execute(
                "SELECT version, wrapped FROM fleet.site_keys WHERE site_id = %s "
                "ORDER BY version DESC LIMIT 1",
                (site_id,),
            )
            return cur.fetchone()

        row = self._run(f"reading the data key of site {site_id!r}", do)
        if row is None:
            raise FleetError(f"site {site_id!r} does not exist")
        return SiteCipher(site_id, row[0], unwrap_data_key(site_key, site_id, row[0], row[1]))

    def enroll_many(
        self,
        site_id: str,
        site_key: GalleryKey,
        entries: Iterable[Enrollment | Sequence[Any]],
        *,
        add: bool = False,
    ) -> list[int]:
        """Enrol identities at a site in one transaction (all or none); returns their change ids.

        With ``add`` the templates are added to identities already enrolled instead.
        """
        cipher = self.site_cipher(site_id, site_key)
        batch = [Enrollment(*e) if not isinstance(e, Enrollment) else e for e in entries]
        ids = [e.identity_id for e in batch]
        if len(set(ids)) != len(ids):
            raise FleetError("the same identity id appears twice in one enrolment batch")
        sealed, dim = self._seal(cipher, batch)
        op = "update" if add else "enroll"

        def do(cur: Any) -> list[int]:
            cur.execute("SELECT dim FROM fleet.sites WHERE id = %s FOR UPDATE", (site_id,))
            site_dim = cur.fetchone()[0]
            if site_dim is None:
                cur.execute("UPDATE fleet.sites SET dim = %s WHERE id = %s", (dim, site_id))
            elif site_dim != dim:
                raise FleetError(f"site {site_id!r} holds {site_dim}-d templates, not {dim}-d")
            cur.execute("SELECT id FROM fleet.identities WHERE site_id = %s AND id = ANY(%s)", (site_id, ids))
            present = {r[0] for r in cur.fetchall()}
            wrong = sorted(set(ids) - present) if add else sorted(present)
            if wrong:
                state = "not enrolled" if add else "already enrolled (add templates with add=True)"
                raise FleetError(f"identity {wrong[0]!r} at site {site_id!r} is {state}")
            version = log_changes(cur, site_id, op, ids, bump=add)
            if not add:
                people = (
                    (site_id, e.identity_id, e.name, json.dumps(e.meta or {}), version[e.identity_id])
                    for e in batch
                )
                copy_in(cur, "identities", ("site_id", "id", "name", "meta", "version"), people)
            columns = ("site_id", "identity_id", "tid", "key_version", "nonce", "ciphertext")
            copy_in(cur, "templates", columns, ((site_id, *row) for row in sealed))
            return [version[i] for i in ids]

        return self._run(f"enrolling at site {site_id!r}", do)

    @staticmethod
    def _seal(cipher: SiteCipher, batch: list[Enrollment]) -> tuple[list[tuple], int]:
        rows: list[tuple] = []
        dim = None
        for e in batch:
            check_id_text(e.identity_id)
            arr = np.atleast_2d(np.asarray(e.templates, np.float32))
            if arr.ndim != 2 or arr.size == 0:
                raise FleetError(f"templates of {e.identity_id!r} must be one vector or an (n, dim) array")
            if dim is None:
                dim = arr.shape[1]
            if arr.shape[1] != dim:
                raise FleetError(f"templates of {e.identity_id!r} are {arr.shape[1]}-d, the batch is {dim}-d")
            try:
                normalise(arr, dim, f"template of {e.identity_id!r}")  # refuses NaN and zero vectors
            except Exception as exc:
                raise FleetError(str(exc)) from None
            for vector in arr:
                tid = os.urandom(_TID_BYTES)
                nonce, ct = cipher.seal(e.identity_id, tid, vector)
                rows.append((e.identity_id, tid, cipher.version, nonce, ct))
        if dim is None:
            raise FleetError("nothing to enrol")
        return rows, int(dim)

    def rotate_key(self, site_id: str, site_key: GalleryKey, new_site_key: GalleryKey | None = None):
        """Re-seal the site under a fresh data key (:func:`biogate.fleet.rotate.rotate_site_key`)."""
        return rotate_site_key(self, site_id, site_key, new_site_key)

    def delete(self, site_id: str, identity_id: str, reason: str = "") -> int:
        """Revoke an identity at a site (identity and templates deleted); returns the change id."""

        def do(cur: Any) -> int:
            cur.execute(
                "DELETE FROM fleet.identities WHERE site_id = %s AND id = %s RETURNING id",
                (site_id, identity_id),
            )
            if cur.fetchone() is None:
                raise FleetError(f"identity {identity_id!r} is not enrolled at site {site_id!r}")
            cur.execute(
                "INSERT INTO fleet.changes(site_id, identity_id, op) VALUES (%s, %s, 'revoke') "
                "RETURNING change_id",
                (site_id, identity_id),
            )
            change = int(cur.fetchone()[0])
            cur.execute(
                "INSERT INTO fleet.revocations(change_id, site_id, identity_id, reason) "
                "VALUES (%s, %s, %s, %s)",
                (change, site_id, identity_id, reason),
            )
            return change

        return self._run(f"revoking {identity_id!r} at site {site_id!r}", do)

    def identities(self, site_id: str) -> list[dict[str, Any]]:
        def do(cur: Any) -> list[dict[str, Any]]:
            cur.execute(
                "SELECT i.id, i.name, i.meta, i.version, count(t.tid) FROM fleet.identities i "
                "LEFT JOIN fleet.templates t ON t.site_id = i.site_id AND t.identity_id = i.id "
                "WHERE i.site_id = %s GROUP BY i.site_id, i.id ORDER BY i.id",
                (site_id,),
            )
            return [
                {"id": r[0], "name": r[1], "meta": r[2], "version": r[3], "templates": r[4]}
                for r in cur.fetchall()
            ]

        return self._run(f"listing site {site_id!r}", do)

    def status(self) -> list[dict[str, Any]]:
        """Per kiosk: last report, last sync, change id, lag behind its site, spool depth."""

        def do(cur: Any) -> list[dict[str, Any]]:
            cur.execute(
                "SELECT k.id, k.site_id, k.last_seen, k.last_sync, k.change_id, k.spool_depth, "
                "k.staleness_s, "
                "(SELECT max(c.change_id) FROM fleet.changes c WHERE c.site_id = k.site_id), k.agent "
                "FROM fleet.kiosks k ORDER BY k.site_id, k.id"
            )
            now = time.time()
            out = []
            for r in cur.fetchall():
                head = r[7] or 0
                out.append(
                    {
                        "kiosk": r[0],
                        "site": r[1],
                        "last_seen": None if r[2] is None else r[2].isoformat(),
                        "seen_s_ago": None if r[2] is None else round(now - r[2].timestamp(), 1),
                        "last_sync": None if r[3] is None else r[3].isoformat(),
                        "change_id": r[4],
                        "lag_changes": None if r[4] is None else max(0, head - r[4]),
                        "spool_depth": r[5],
                        "staleness_s": r[6],
                        "agent": r[8],
                    }
                )
            return out

        return self._run("reading kiosk status", do)


def check_id_text(identity_id: Any) -> None:
    if (
        not isinstance(identity_id, str)
        or not 0 < len(identity_id) <= 128
        or identity_id != identity_id.strip()
    ):
        raise FleetError(
            f"identity id must be 1..128 characters without surrounding spaces, got {identity_id!r}"
        )
