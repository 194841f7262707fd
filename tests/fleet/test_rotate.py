"""Re-keying a site: templates re-sealed, old data keys retired, a kiosk with the old key shut out."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from biogate.cli.main import main
from biogate.errors import FleetError
from biogate.fleet import FleetAgent
from biogate.fleet.keys import unwrap_data_key
from biogate.gallery import Enrollment, Gallery, GalleryKey

from .conftest import wait_until


def _agent(fleet, name: str, site_key: GalleryKey, dsn: str, gallery: Gallery | None = None):
    gallery = gallery or Gallery(fleet.tmp / f"{name}.db", GalleryKey.generate(), create=True)
    agent = FleetAgent(
        dsn,
        site_key,
        gallery,
        str(fleet.tmp / f"{name}-state.db"),
        poll_s=0.2,
        max_staleness_s=30,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )
    return agent, gallery


def _keys(fleet) -> list[tuple[int, bytes]]:
    with psycopg.connect(fleet.dsn) as conn:
        return conn.execute("SELECT version, wrapped FROM fleet.site_keys WHERE site_id = 'hq'").fetchall()


def test_rotation_to_a_new_site_key_shuts_out_a_kiosk_with_the_old_one(fleet):
    people = {f"E{i}": fleet.templates(2) for i in range(8)}
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment(k, "", v) for k, v in people.items()])
    stolen, stolen_gallery = _agent(fleet, "stolen", fleet.site_key, fleet.kiosk("door-stolen"))
    kept_dsn = fleet.kiosk("door1")
    kept, kept_gallery = _agent(fleet, "kept", fleet.site_key, kept_dsn)
    try:
        for agent, gallery in ((stolen, stolen_gallery), (kept, kept_gallery)):
            agent.start()
            wait_until(lambda a=agent, g=gallery: a.status()["fresh"] and len(g) == 8, what="first sync")
        new_key = GalleryKey.generate()
        version, n = fleet.admin.rotate_key("hq", fleet.site_key, new_key)
        assert (version, n) == (2, 16)
        (only,) = _keys(fleet)
        assert only[0] == 2
        with pytest.raises(FleetError, match="does not open data key v2"):
            unwrap_data_key(fleet.site_key, "hq", 2, only[1])
        fleet.admin.enroll_many("hq", new_key, [Enrollment("N1", "new", fleet.templates(1))])
        # The kiosk that got the new key (a restart with the new key file) follows everything.
        kept.stop()
        kept, _ = _agent(fleet, "kept", new_key, kept_dsn, kept_gallery)
        kept.start()
        wait_until(lambda: "N1" in kept_gallery and kept.status()["fresh"], what="sync under the new key")
        assert len(kept_gallery) == 9
        for ident, vectors in people.items():
            assert kept_gallery.search(vectors[0], k=1)[0].identity_id == ident
        # The kiosk with the old key cannot open the new data key: it never gets N1.
        wait_until(lambda: "data key v2" in (stolen.status()["last_error"] or ""), what="old key refused")
        assert "N1" not in stolen_gallery
    finally:
        for agent, gallery in ((stolen, stolen_gallery), (kept, kept_gallery)):
            agent.stop()
            gallery.close()


def test_wrong_key_changes_nothing_and_same_key_rotation_keeps_kiosks_syncing(fleet):
    vectors = fleet.templates(3)
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment("E1", "", vectors)])
    before = _keys(fleet)
    with pytest.raises(FleetError, match="does not open data key v1"):
        fleet.admin.rotate_key("hq", GalleryKey.generate())
    assert _keys(fleet) == before
    with pytest.raises(FleetError, match="does not exist"):
        fleet.admin.rotate_key("nowhere", fleet.site_key)
    agent, gallery = _agent(fleet, "door", fleet.site_key, fleet.kiosk("door1"))
    try:
        agent.start()
        wait_until(lambda: len(gallery) == 1, what="first sync")
        assert fleet.admin.rotate_key("hq", fleet.site_key) == (2, 3)
        head = fleet.admin.status()
        wait_until(lambda: agent.state.change_id >= 2 and agent.status()["fresh"], what="re-fetch")
        got = gallery.templates("E1")
        assert sorted(map(bytes, got.astype("<f4"))) == sorted(map(bytes, vectors.astype("<f4")))
        assert head[0]["kiosk"] == "door1"
    finally:
        agent.stop()
        gallery.close()


def test_cli_rotate_key(fleet, tmp_path, capsys):
    key_file = tmp_path / "hq.key"
    fleet.site_key.write(key_file)
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment("E1", "", fleet.templates(1))])
    conn = ["--dsn", fleet.dsn]
    new = tmp_path / "hq2.key"
    wrong = tmp_path / "wrong.key"
    GalleryKey.generate().write(wrong)
    base = ["fleet", "site", "rotate-key", *conn, "--id", "hq"]
    assert main([*base, "--site-key", str(wrong), "--new-key-out", str(new)]) == 2
    assert "does not open data key v1" in capsys.readouterr().err and not new.exists()
    assert main([*base, "--site-key", str(key_file), "--new-key-out", str(new)]) == 0
    assert "1 template(s) re-sealed under data key v2" in capsys.readouterr().out
    assert oct(new.stat().st_mode & 0o777) == "0o600"
    assert main([*base, "--site-key", str(new), "--new-key-out", str(new)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*base, "--site-key", str(new), "--same-key"]) == 0
    assert [v for v, _ in _keys(fleet)] == [3]


def test_a_v1_database_upgrades_and_its_enrolment_role_can_re_key(pg_server, tmp_path, monkeypatch):
    from biogate.fleet import FleetAdmin, connect, migrate, schema

    dsn = pg_server.create_database("upgrade_v1")
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr(schema, "LATEST", 1)
    with connect(dsn) as conn:
        assert migrate(conn, "upv1") == [1]
        conn.commit()
    site_key = GalleryKey.generate()
    with FleetAdmin.connect(dsn) as owner:
        owner.add_site("hq", "", site_key)
        password = owner.add_user("upv1_u_enrol", "enrol")
    enrol_dsn = pg_server.dsn("upgrade_v1", "upv1_u_enrol", password)
    with FleetAdmin.connect(enrol_dsn) as enrol:
        enrol.enroll_many("hq", site_key, [Enrollment("E1", "", np.ones((1, 4), np.float32))])
        with pytest.raises(FleetError, match="not allowed"):
            enrol.rotate_key("hq", site_key)  # v1 grants no DELETE on site_keys
    monkeypatch.undo()
    with connect(dsn) as conn:
        assert migrate(conn) == [2]
        conn.commit()
    with FleetAdmin.connect(enrol_dsn) as enrol:
        assert enrol.rotate_key("hq", site_key) == (2, 1)
