"""Hostile tests: what a stolen kiosk credential, an enrolment login or a database dump can get."""

from __future__ import annotations

import subprocess
import uuid

import numpy as np
import psycopg
import pytest

from biogate.errors import FleetError
from biogate.fleet import connect, redact
from biogate.fleet.keys import SiteCipher, unwrap_data_key
from biogate.gallery import Enrollment, GalleryKey


@pytest.fixture
def two_sites(fleet):
    other_key = GalleryKey.generate()
    fleet.admin.add_site("annex", "Annex", other_key)
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment("E1", "Ada", fleet.templates(2))])
    fleet.admin.enroll_many("annex", other_key, [Enrollment("X1", "Bob", fleet.templates(1))])
    fleet.kiosk("door-b", "annex")
    return fleet, fleet.kiosk("door1", "hq")


def _rows(dsn: str, sql: str) -> list:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def test_kiosk_reads_only_its_own_site(two_sites):
    _fleet, dsn = two_sites
    for table, column in (
        ("identities", "site_id"),
        ("templates", "site_id"),
        ("changes", "site_id"),
        ("site_keys", "site_id"),
        ("sites", "id"),
    ):
        assert {r[0] for r in _rows(dsn, f"SELECT {column} FROM fleet.{table}")} == {"hq"}, table
    assert [r[0] for r in _rows(dsn, "SELECT id FROM fleet.kiosks")] == ["door1"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _rows(dsn, "SELECT * FROM fleet.revocations")


def test_kiosk_cannot_write_the_gallery_nor_read_audit(two_sites):
    _fleet, dsn = two_sites
    attempts = [
        "INSERT INTO fleet.identities(site_id, id, name, version) VALUES ('hq', 'EVIL', 'x', 1)",
        "DELETE FROM fleet.identities",
        "INSERT INTO fleet.changes(site_id, identity_id, op) VALUES ('hq', 'E1', 'revoke')",
        "UPDATE fleet.kiosks SET site_id = 'annex'",
        "SELECT * FROM fleet.audit_events",
    ]
    for sql in attempts:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _rows(dsn, sql)


def _insert_event(dsn: str, kiosk: str, site: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO fleet.audit_events(kiosk_id, event_id, site_id, record) VALUES (%s, %s, %s, '{}')",
            (kiosk, uuid.uuid4(), site),
        )


def test_kiosk_inserts_only_its_own_audit_events(two_sites):
    fleet, dsn = two_sites
    _insert_event(dsn, "door1", "hq")  # its own: fine
    for kiosk, site in (("door-b", "annex"), ("door-b", "hq"), ("door1", "annex")):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            _insert_event(dsn, kiosk, site)
    assert _rows(fleet.dsn, "SELECT kiosk_id FROM fleet.audit_events") == [("door1",)]


def test_kiosk_status_report_only_touches_its_own_row(two_sites):
    fleet, dsn = two_sites
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("UPDATE fleet.kiosks SET spool_depth = 99")
        assert cur.rowcount == 1
    depths = dict(_rows(fleet.dsn, "SELECT id, spool_depth FROM fleet.kiosks"))
    assert depths == {"door1": 99, "door-b": None}


def test_enrolment_role_cannot_read_audit_events(fleet):
    enrol = fleet.user("enrol", "enrol")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _rows(enrol, "SELECT * FROM fleet.audit_events")
    auditor = fleet.user("aud", "audit")
    assert _rows(auditor, "SELECT count(*) FROM fleet.audit_events") == [(0,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _rows(auditor, "SELECT * FROM fleet.templates")


def test_enrolment_role_enrols_adds_and_revokes(fleet):
    """The least-privilege login does the enrolment station's work (COPY FROM is refused under RLS)."""
    from biogate.fleet import FleetAdmin

    with FleetAdmin.connect(fleet.user("station", "enrol")) as station:
        station.enroll_many("hq", fleet.site_key, [Enrollment("E1", "Ada", fleet.templates(2))])
        station.enroll_many("hq", fleet.site_key, [Enrollment("E1", "", fleet.templates(1))], add=True)
        assert [(p["id"], p["templates"]) for p in station.identities("hq")] == [("E1", 3)]
        station.delete("hq", "E1", reason="left")
        assert station.identities("hq") == []


def test_database_dump_holds_no_plaintext_template(fleet, pg_server):
    templates = fleet.templates(3, dim=32)
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment("E1", "Ada", templates)])
    out = subprocess.run(
        [
            str(pg_server.bin / "pg_dump"),
            "--data-only",
            "--inserts",
            f"--dbname=postgresql://postgres@127.0.0.1:{pg_server.port}/{fleet.db}",
        ],
        capture_output=True,
        check=True,
        env={"PGPASSWORD": pg_server.password, "PATH": "/usr/bin:/bin"},
    ).stdout
    rows = _rows(fleet.dsn, "SELECT * FROM fleet.templates")
    everything = out + b"".join(bytes(v) for r in rows for v in r if isinstance(v, (bytes, memoryview)))
    for vector in templates:
        raw = vector.astype("<f4").tobytes()
        assert raw not in everything and raw.hex().encode() not in everything
        assert vector.astype("<f4")[:4].tobytes() not in everything
    # The dump's wrapped data key opens with the site key only.
    version, wrapped = _rows(fleet.dsn, "SELECT version, wrapped FROM fleet.site_keys")[0]
    with pytest.raises(FleetError, match="does not open"):
        unwrap_data_key(GalleryKey.generate(), "hq", version, wrapped)
    cipher = SiteCipher("hq", version, unwrap_data_key(fleet.site_key, "hq", version, wrapped))
    _, ident, tid, _kv, nonce, ct = rows[0]
    assert any(np.array_equal(cipher.open(ident, tid, nonce, ct), v) for v in templates)
    with pytest.raises(FleetError, match="failed authentication"):
        cipher.open("E2", tid, nonce, ct)  # moved to another identity


def test_credentials_never_in_errors_or_logs(fleet, caplog):
    dsn = fleet.kiosk("door9")
    secret = dsn.split("password=")[1]
    assert secret not in redact(dsn) and "***" in redact(dsn)
    wrong = dsn.replace(secret, "wrong-" + secret)
    with pytest.raises(FleetError) as info:
        connect(wrong)
    assert secret not in str(info.value) and "wrong-" not in str(info.value)
    assert secret not in caplog.text
