"""The fleet database: versioned migrations, group roles and row-level security.

Everything lives in schema ``fleet``.  Three group roles (names prefixed, so several fleets can
share one cluster) carry the privileges; login roles are members of exactly one of them:

* ``<prefix>_enrol``  — central enrolment: sites, identities, templates, change log; **no** audit.
* ``<prefix>_kiosk``  — one login role per kiosk; row-level security limits it to its own site's
  rows, its own status columns and inserting its own audit events (it cannot read any).
* ``<prefix>_audit``  — reads audit events and kiosk status, nothing else.

The change log is monotonic per site: a trigger locks the site's row before it draws the change
id, so a site's changes commit in id order and a kiosk reading ``change_id > last`` in one
snapshot never skips a change that commits later with a smaller id.  A statement trigger sends
``NOTIFY`` on the site's channel (:func:`channel`) when the transaction commits.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

from ..errors import FleetError

SCHEMA = "fleet"
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")

# Tables each group role may touch, and how (row-level security narrows the kiosk's further).
_KIOSK_SITE_TABLES = ("site_keys", "identities", "templates", "changes")
_ENROL_TABLES = ("sites", "site_keys", "identities", "templates", "changes", "revocations")
KIOSK_STATUS_COLUMNS = ("last_seen", "last_sync", "change_id", "spool_depth", "staleness_s", "agent")

_V1 = """
CREATE TABLE fleet.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE fleet.sites (
    id       text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$'),
    name     text NOT NULL DEFAULT '',
    dim      integer CHECK (dim > 0),
    created  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE fleet.site_keys (
    site_id  text NOT NULL REFERENCES fleet.sites(id) ON DELETE CASCADE,
    version  integer NOT NULL,
    wrapped  bytea NOT NULL,            -- nonce || AES-GCM(site key, data key): useless without the site key
    created  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, version)
);
CREATE TABLE fleet.kiosks (
    id           text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$'),
    site_id      text NOT NULL REFERENCES fleet.sites(id),
    role_name    name NOT NULL UNIQUE,
    created      timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz,           -- the status columns below are the kiosk's own report
    last_sync    timestamptz,
    change_id    bigint,
    spool_depth  integer,
    staleness_s  double precision,
    agent        text
);
CREATE SEQUENCE fleet.change_seq;
CREATE TABLE fleet.changes (
    change_id     bigint PRIMARY KEY,
    site_id       text NOT NULL REFERENCES fleet.sites(id),
    identity_id   text NOT NULL,
    op            text NOT NULL CHECK (op IN ('enroll', 'update', 'revoke')),
    committed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX changes_by_site ON fleet.changes (site_id, change_id);
CREATE TABLE fleet.identities (
    site_id  text NOT NULL REFERENCES fleet.sites(id),
    id       text NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
    name     text NOT NULL,
    meta     jsonb NOT NULL DEFAULT '{}',
    version  bigint NOT NULL,           -- change id of the identity's last change
    created  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);
CREATE TABLE fleet.templates (
    site_id      text NOT NULL,
    identity_id  text NOT NULL,
    tid          bytea NOT NULL,
    key_version  integer NOT NULL,
    nonce        bytea NOT NULL,
    ciphertext   bytea NOT NULL,        -- AES-GCM(data key, float32 template)
    PRIMARY KEY (site_id, identity_id, tid),
    FOREIGN KEY (site_id, identity_id) REFERENCES fleet.identities(site_id, id) ON DELETE CASCADE
);
CREATE TABLE fleet.revocations (
    change_id    bigint PRIMARY KEY,
    site_id      text NOT NULL REFERENCES fleet.sites(id),
    identity_id  text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    revoked_by   name NOT NULL DEFAULT session_user,
    revoked_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE fleet.audit_events (
    kiosk_id     text NOT NULL REFERENCES fleet.kiosks(id),
    event_id     uuid NOT NULL,
    site_id      text NOT NULL,
    t_event      text,
    decision     text,
    identity_id  text,
    record       jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kiosk_id, event_id)    -- the server-side de-duplication of re-sent events
);

CREATE FUNCTION fleet.order_change() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- One writer per site at a time: its change ids are drawn and committed in order.
    PERFORM 1 FROM fleet.sites WHERE id = NEW.site_id FOR UPDATE;
    NEW.change_id := nextval('fleet.change_seq');
    NEW.committed_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER changes_ordered BEFORE INSERT ON fleet.changes
    FOR EACH ROW EXECUTE FUNCTION fleet.order_change();
CREATE FUNCTION fleet.notify_change() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('bg_' || substr(md5(site_id), 1, 24), max(change_id)::text)
        FROM new_rows GROUP BY site_id;
    RETURN NULL;
END $$;
CREATE TRIGGER changes_notify AFTER INSERT ON fleet.changes
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fleet.notify_change();
REVOKE ALL ON FUNCTION fleet.order_change(), fleet.notify_change() FROM PUBLIC;
"""


def channel(site_id: str) -> str:
    """The ``LISTEN`` channel of a site (what :sql:`fleet.notify_change` computes)."""
    return "bg_" + hashlib.md5(site_id.encode("utf-8")).hexdigest()[:24]


def group_roles(prefix: str) -> dict[str, str]:
    """``{"enrol": ..., "kiosk": ..., "audit": ...}`` group role names for ``prefix``."""
    return {g: f"{prefix}_{g}" for g in ("enrol", "kiosk", "audit")}


def kiosk_role(prefix: str, kiosk_id: str) -> str:
    """The login role of one kiosk (lower case: PostgreSQL folds unquoted names)."""
    return f"{prefix}_k_{kiosk_id.lower().replace('-', '_').replace('.', '_')}"


def check_prefix(prefix: str) -> str:
    if not _PREFIX_RE.match(prefix or ""):
        raise FleetError(f"role prefix {prefix!r} must match {_PREFIX_RE.pattern}")
    return prefix


def _v1_roles(cur: Any, prefix: str) -> None:
    from psycopg import sql

    roles = group_roles(prefix)
    ident = {g: sql.Identifier(r) for g, r in roles.items()}
    for name in roles.values():
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))

    def grant(privs: str, tables: tuple[str, ...], group: str) -> None:
        names = sql.SQL(", ").join(sql.Identifier(SCHEMA, t) for t in tables)
        cur.execute(sql.SQL("GRANT " + privs + " ON {} TO {}").format(names, ident[group]))

    for group in ident:
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA fleet TO {}").format(ident[group]))
        grant("SELECT", ("meta", "schema_migrations"), group)
    grant("SELECT, INSERT, UPDATE", ("sites",), "enrol")
    grant("SELECT, INSERT", ("site_keys", "changes", "revocations"), "enrol")
    grant("SELECT, INSERT, UPDATE, DELETE", ("identities", "templates"), "enrol")
    grant("SELECT", ("kiosks",), "enrol")
    grant("SELECT", ("sites", "kiosks", *_KIOSK_SITE_TABLES), "kiosk")
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in KIOSK_STATUS_COLUMNS)
    cur.execute(sql.SQL("GRANT UPDATE ({}) ON fleet.kiosks TO {}").format(cols, ident["kiosk"]))
    grant("INSERT", ("audit_events",), "kiosk")
    grant("SELECT", ("audit_events", "kiosks", "sites"), "audit")

    def policy(table: str, name: str, spec: str, group: str) -> None:
        cur.execute(
            sql.SQL("CREATE POLICY {} ON {} " + spec).format(
                sql.Identifier(name), sql.Identifier(SCHEMA, table), ident[group]
            )
        )

    mine = "(SELECT k.site_id FROM fleet.kiosks k WHERE k.role_name = current_user)"
    for table in ("sites", "kiosks", *_KIOSK_SITE_TABLES, "revocations", "audit_events"):
        cur.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(sql.Identifier(SCHEMA, table)))
    for table in _ENROL_TABLES:
        policy(table, "enrol_all", "FOR ALL TO {} USING (true) WITH CHECK (true)", "enrol")
    policy("kiosks", "enrol_read", "FOR SELECT TO {} USING (true)", "enrol")
    policy("kiosks", "kiosk_self", "FOR SELECT TO {} USING (role_name = current_user)", "kiosk")
    policy(
        "kiosks",
        "kiosk_report",
        "FOR UPDATE TO {} USING (role_name = current_user) WITH CHECK (role_name = current_user)",
        "kiosk",
    )
    policy("sites", "kiosk_site", f"FOR SELECT TO {{}} USING (id = {mine})", "kiosk")
    for table in _KIOSK_SITE_TABLES:
        policy(table, "kiosk_site", f"FOR SELECT TO {{}} USING (site_id = {mine})", "kiosk")
    own = f"(SELECT k.id FROM fleet.kiosks k WHERE k.role_name = current_user) AND site_id = {mine}"
    policy("audit_events", "kiosk_insert_own", f"FOR INSERT TO {{}} WITH CHECK (kiosk_id = {own})", "kiosk")
    for table in ("audit_events", "kiosks", "sites"):
        policy(table, "audit_read", "FOR SELECT TO {} USING (true)", "audit")


def _v1(cur: Any, prefix: str) -> None:
    cur.execute(_V1)
    cur.execute("INSERT INTO fleet.meta(key, value) VALUES ('role_prefix', %s)", (prefix,))
    _v1_roles(cur, prefix)


def _v2(cur: Any, prefix: str) -> None:
    from psycopg import sql

    # Re-keying a site (biogate.fleet.rotate) retires the data keys it replaced.
    cur.execute(
        sql.SQL("GRANT DELETE ON fleet.site_keys TO {}").format(sql.Identifier(group_roles(prefix)["enrol"]))
    )


#: ``(version, description, apply(cursor, role_prefix))`` in order; never edit a released one.
MIGRATIONS: list[tuple[int, str, Callable[[Any, str], None]]] = [
    (1, "sites, kiosks, identities, encrypted templates, change log, audit events, roles, RLS", _v1),
    (2, "the enrolment role may retire a site's replaced data keys (site re-keying)", _v2),
]
LATEST = MIGRATIONS[-1][0]


def schema_version(conn: Any) -> int:
    """The applied schema version (0 for a database without the fleet schema)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('fleet.schema_migrations')")
        if cur.fetchone()[0] is None:
            return 0
        cur.execute("SELECT coalesce(max(version), 0) FROM fleet.schema_migrations")
        return int(cur.fetchone()[0])


def role_prefix(conn: Any) -> str:
    """The group-role prefix this fleet database was created with."""
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM fleet.meta WHERE key = 'role_prefix'")
        row = cur.fetchone()
    if row is None:
        raise FleetError("this database has no fleet schema: run `biogate fleet init-db DSN` first")
    return str(row[0])


def migrate(conn: Any, prefix: str = "biogate") -> list[int]:
    """Create or upgrade the fleet schema; returns the versions applied now (all or none).

    ``conn`` must belong to a role that may create schemas and roles (the database owner with
    CREATEROLE, or a superuser).  A database newer than this biogate is refused.
    """
    check_prefix(prefix)
    applied: list[int] = []
    with conn.transaction():
        # Two init-db runs at once must not both apply version 1.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('biogate.fleet.migrate'))")
        current = schema_version(conn)
        if current > LATEST:
            raise FleetError(
                f"the fleet database is at schema v{current}, newer than this biogate (v{LATEST}): "
                "upgrade biogate"
            )
        if current == 0:
            conn.execute("CREATE SCHEMA IF NOT EXISTS fleet")
            conn.execute(
                "CREATE TABLE fleet.schema_migrations (version integer PRIMARY KEY, "
                "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        else:
            prefix = role_prefix(conn)
        for version, description, apply in MIGRATIONS:
            if version <= current:
                continue
            with conn.cursor() as cur:
                apply(cur, prefix)
                cur.execute(
                    "INSERT INTO fleet.schema_migrations(version, description) VALUES (%s, %s)",
                    (version, description),
                )
            applied.append(version)
    return applied
