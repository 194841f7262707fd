"""The kiosk's sync agent against a real server: full sync, deltas, outage, fail closed, audit."""

from __future__ import annotations

import pytest

from biogate.fleet import FleetAgent, FleetState, FreshGallery, LocalGallery, SiteFeed, connect
from biogate.gallery import Enrollment, Gallery, GalleryKey

from .conftest import wait_until


@pytest.fixture
def kiosk(fleet):
    dsn = fleet.kiosk("door1")
    gallery = Gallery(fleet.tmp / "faces.db", GalleryKey.generate(), create=True)
    applied = []
    agent = FleetAgent(
        dsn,
        fleet.site_key,
        gallery,
        str(fleet.tmp / "state.db"),
        poll_s=0.2,
        max_staleness_s=30,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
        status_every_s=0.2,
        on_applied=lambda batch, t: applied.append(batch),
    )
    yield fleet, dsn, gallery, agent, applied
    agent.stop()
    gallery.close()


def test_full_sync_then_deltas_reach_the_live_index(kiosk):
    fleet, _, gallery, agent, _ = kiosk
    people = {f"E{i}": fleet.templates(2) for i in range(30)}
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment(k, k.lower(), v) for k, v in people.items()])
    agent.start()
    wait_until(lambda: agent.status()["fresh"] and len(gallery) == 30, what="full sync")
    assert gallery.search(people["E3"][0], k=1)[0].identity_id == "E3"
    fleet.admin.delete("hq", "E3", reason="left")
    wait_until(lambda: "E3" not in gallery, what="revocation")
    new = fleet.templates(1)
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment("N1", "new", new)])
    wait_until(lambda: "N1" in gallery, what="enrolment")
    assert gallery.search(new[0], k=1)[0].identity_id == "N1"
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment("N1", "", fleet.templates(2))], add=True)
    wait_until(lambda: gallery.get("N1").n_templates == 3, what="added templates")
    head = fleet.admin.status()
    wait_until(lambda: fleet.admin.status()[0]["lag_changes"] == 0, what="status report")
    assert head[0]["kiosk"] == "door1"


def test_batches_are_idempotent_and_full_sync_resumes(fleet, tmp_path):
    fleet.admin.enroll_many(
        "hq", fleet.site_key, [Enrollment(f"E{i}", "", fleet.templates()) for i in range(5)]
    )
    with connect(fleet.kiosk("door1"), autocommit=True) as conn, Gallery(
        tmp_path / "faces.db", GalleryKey.generate(), create=True
    ) as gallery:
        feed, local = SiteFeed(conn, fleet.site_key), LocalGallery(gallery)
        local.apply([], [])
        batches = list(feed.snapshot(local.versions()))
        for batch in batches[:2]:  # killed half-way, then the same batches again
            local.apply(batch.upserts, batch.deletes)
        before = {i.id: gallery.templates(i.id).tobytes() for i in gallery.identities()}
        for batch in batches:
            local.apply(batch.upserts, batch.deletes)
        assert {i.id: gallery.templates(i.id).tobytes() for i in gallery.identities()} == before
        assert [b.upserts for b in feed.snapshot(local.versions()) if b.upserts] == []  # all current
        fleet.admin.delete("hq", "E0")
        delta = feed.delta(batches[0].upto)
        assert delta.deletes == ["E0"] and delta.upserts == []
        local.apply(delta.upserts, delta.deletes)
        local.apply(delta.upserts, delta.deletes)
        assert sorted(local.versions()) == ["E1", "E2", "E3", "E4"]


def test_offline_kiosk_decides_then_fails_closed_after_max_staleness(kiosk, pg_server):
    fleet, _, gallery, agent, _ = kiosk
    t = fleet.templates(1)
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment("E1", "Ada", t)])
    guarded = FreshGallery(gallery, agent)
    assert guarded.search(t[0]) == []  # never synced: nobody is matched
    agent.start()
    wait_until(lambda: agent.status()["fresh"] and "E1" in gallery, what="sync")
    fleet.admin.close()
    pg_server.stop()
    try:
        wait_until(lambda: not agent.connected, what="disconnect")
        assert guarded.search(t[0])[0].identity_id == "E1"  # offline: last synced gallery
        agent.state.put(confirmed=agent.state.confirmed - 31)  # as if 31 s went by
        assert not agent.fresh() and guarded.search(t[0]) == [] and agent.status()["refused_matches"] == 2
        with pytest.raises(Exception, match="too stale"):
            guarded.verify("E1", t[0], threshold=0.5)
    finally:
        pg_server.start()
    wait_until(lambda: agent.connected and agent.fresh(), what="reconnect")
    assert guarded.search(t[0])[0].identity_id == "E1"


def test_audit_reaches_the_server_exactly_once(kiosk):
    fleet, _, _, agent, _ = kiosk
    for i in range(20):
        agent.spool_record({"event_id": f"{i:032x}", "decision": "deny", "identity": None, "time": "t"})
    agent.start()
    wait_until(lambda: agent.state.depth() == 0, what="upload")
    # A crash after the server committed but before the spool was marked: all are sent again.
    agent.state._db.execute("UPDATE spool SET sent = NULL")
    agent.state.wakeup.set()
    wait_until(
        lambda: agent.state.depth() == 0 and agent.status()["resent_deduplicated"] == 20, what="resend"
    )
    with connect(fleet.dsn) as conn:
        rows = conn.execute("SELECT event_id::text, kiosk_id FROM fleet.audit_events").fetchall()
    assert len(rows) == 20 and {r[1] for r in rows} == {"door1"}


def test_spool_survives_restarts(tmp_path):
    state = FleetState(tmp_path / "state.db")
    state.spool({"event_id": "a" * 32, "decision": "open"})
    state.spool({"event_id": "a" * 32, "decision": "open"})  # the same event twice: kept once
    state.put(change_id=7, confirmed=1.5)
    state.close()
    again = FleetState(tmp_path / "state.db")
    assert again.depth() == 1 and again.change_id == 7 and again.confirmed == 1.5
    seq = again.pending()[0][0]
    again.mark_sent([seq])
    assert again.depth() == 0 and again.event_ids() == ["a" * 32]
    again.close()


def test_wrong_site_key_is_refused_and_gallery_untouched(fleet, tmp_path):
    fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment("E1", "", fleet.templates())])
    with connect(fleet.kiosk("door1"), autocommit=True) as conn, pytest.raises(
        Exception, match="does not open"
    ):
        SiteFeed(conn, GalleryKey.generate())
