"""The kiosk's sync agent: keeps the local gallery a copy of its site and uploads its audit.

    agent = FleetAgent(dsn, site_key, gallery, "fleet_state.db", password_file="/etc/biogate/fleet.pass")
    agent.start()                      # two threads: sync (LISTEN + deltas) and audit upload
    audit_log.listeners.append(agent.spool_record)
    gallery_for_matching = FreshGallery(gallery, agent)   # fails closed when too stale
    ...
    agent.stop()

Sync: a full sync first (resumable: identities already at the server's version are skipped),
then deltas by change id.  The server pushes through ``LISTEN``/``NOTIFY``; a poll every
``poll_s`` is the fallback and the heartbeat that *confirms* the gallery is current.  When the
server is unreachable the kiosk keeps deciding from its last synced gallery; after
``max_staleness_s`` without a confirmation :class:`FreshGallery` matches nobody (fail closed)
until the agent catches up again.  Connections are retried with exponential back-off.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable

from .. import __version__
from ..errors import BiogateError, FleetError
from ..gallery import Gallery, GalleryKey, Matches
from .db import connect, describe, pg
from .feed import Batch, SiteFeed
from .local import LocalGallery
from .schema import channel
from .spool import FleetState

log = logging.getLogger(__name__)


class _Stopped(Exception):
    """The agent was asked to stop in the middle of a sync."""


class Backoff:
    """Exponential reconnect delays with jitter, reset after a success."""

    def __init__(self, first_s: float = 0.5, max_s: float = 15.0) -> None:
        self.first_s, self.max_s = first_s, max_s
        self._n = 0

    def reset(self) -> None:
        self._n = 0

    def next(self) -> float:
        delay = min(self.max_s, self.first_s * (2**self._n))
        self._n = min(self._n + 1, 30)
        return delay * random.uniform(0.5, 1.0)


class FleetAgent:
    """The sync agent of one kiosk (see the module docstring).

    Args:
        dsn: the server's connection string, logged in as this kiosk's role (no password in it).
        site_key: the site key that unwraps the site's data key.
        gallery: the kiosk's local :class:`~biogate.gallery.Gallery` (the running one, so each
            change reaches the live index).
        state_path: the local state file (sync progress and audit spool).
        connect_options: ``password_file``, ``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``.
        poll_s: fallback poll and confirmation interval.
        max_staleness_s: after this long without a confirmation the kiosk fails closed.
        on_applied: ``f(batch, t_applied)`` after each applied batch (benchmarks).
    """

    def __init__(
        self,
        dsn: str,
        site_key: GalleryKey,
        gallery: Gallery,
        state_path: str,
        *,
        poll_s: float = 5.0,
        max_staleness_s: float = 600.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 15.0,
        status_every_s: float = 5.0,
        upload_batch: int = 500,
        sync_chunk: int = 2000,
        on_applied: Callable[[Batch, float], None] | None = None,
        **connect_options: Any,
    ) -> None:
        if poll_s <= 0 or max_staleness_s < 2 * poll_s:
            raise FleetError(
                f"fleet: need poll_s > 0 and max_staleness_s >= 2 x poll_s, got {poll_s}, {max_staleness_s}"
            )
        self.dsn = dsn
        self.site_key = site_key
        self.local = LocalGallery(gallery)
        self.state = FleetState(state_path)
        self.poll_s = poll_s
        self.max_staleness_s = max_staleness_s
        self.status_every_s = status_every_s
        self.upload_batch = upload_batch
        self.sync_chunk = sync_chunk
        self.on_applied = on_applied
        self._options = connect_options
        self._backoff = (reconnect_min_s, reconnect_max_s)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connected = False
        self._last_error: str | None = None
        self.full_sync_s: float | None = None
        self.uploaded = 0
        self.resent = 0  # records the server already had (re-sent after a crash or outage)
        self.refused = 0  # searches refused because the gallery was too stale
        self._was_fresh = self.fresh()
        self._open = True
        self.last_status: dict[str, Any] = {}

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> FleetAgent:
        self._stop.clear()
        for target, name in ((self._sync_loop, "fleet-sync"), (self._upload_loop, "fleet-upload")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.state.wakeup.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        if self._open:
            self.last_status = self.status()  # what it was when it stopped (the state closes now)
            self._open = False
            self.state.close()

    def __enter__(self) -> FleetAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- freshness -------------------------------------------------------------------------------
    def staleness_s(self) -> float:
        """Seconds since the server last confirmed the gallery current (inf: never synced)."""
        confirmed = self.state.confirmed
        if confirmed is None or self.state.change_id is None:
            return float("inf")
        return max(0.0, time.time() - confirmed)

    def fresh(self) -> bool:
        """True while the gallery may be used to open doors."""
        fresh = self.staleness_s() <= self.max_staleness_s
        if fresh != getattr(self, "_was_fresh", fresh):
            if fresh:
                log.info("fleet gallery current: matching enabled")
            else:
                log.error(
                    "fleet gallery not confirmed for more than %.0f s: failing closed (nobody is matched)",
                    self.max_staleness_s,
                )
        self._was_fresh = fresh
        return fresh

    def status(self) -> dict[str, Any]:
        """What ``biogate run`` prints and the kiosk reports to the server."""
        staleness = self.staleness_s()
        return {
            "connected": self._connected,
            "change_id": self.state.change_id,
            "staleness_s": None if staleness == float("inf") else round(staleness, 3),
            "fresh": self.fresh(),
            "spool_depth": self.state.depth(),
            "uploaded": self.uploaded,
            "resent_deduplicated": self.resent,
            "refused_matches": self.refused,
            "full_sync_s": self.full_sync_s,
            "last_error": self._last_error,
        }

    @property
    def connected(self) -> bool:
        return self._connected

    # -- audit -----------------------------------------------------------------------------------
    def spool_record(self, record: dict[str, Any]) -> None:
        """An :class:`~biogate.kiosk.audit.AuditLog` listener: commit the record to the spool."""
        self.state.spool(record)

    # -- connections -----------------------------------------------------------------------------
    def _connect(self, sync: bool) -> Any:
        conn = connect(
            self.dsn, autocommit=sync, application_name=f"biogate-agent/{__version__}", **self._options
        )
        if sync:
            conn.isolation_level = pg().IsolationLevel.REPEATABLE_READ
            conn.read_only = True
        return conn

    def _failed(self, what: str, exc: BaseException) -> None:
        text = f"{what}: {exc if isinstance(exc, BiogateError) else describe(exc)}"
        if text != self._last_error:
            log.warning(
                "fleet %s (retrying with back-off; the kiosk decides from its last synced gallery)", text
            )
        if what == "sync":
            self._connected = False
        self._last_error = text

    def _run_loop(self, what: str, session: Callable[[Backoff], None]) -> None:
        backoff = Backoff(*self._backoff)
        errors = (pg().Error, BiogateError, OSError)
        while not self._stop.is_set():
            try:
                session(backoff)
            except _Stopped:
                return
            except errors as exc:
                self._failed(what, exc)
            self._stop.wait(backoff.next())

    # -- sync ------------------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        self._run_loop("sync", self._sync_session)

    def _sync_session(self, backoff: Backoff) -> None:
        from psycopg import sql

        with self._connect(sync=True) as conn:
            feed = SiteFeed(conn, self.site_key)
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel(feed.who.site_id))))
            if self.state.change_id is None or self.state.get("site") != feed.who.site_id:
                self._full_sync(feed)
            self._connected = True
            self._last_error = None
            backoff.reset()
            while not self._stop.is_set():
                self._catch_up(feed)
                self._wait_for_change(conn)

    def _apply(self, batch: Batch) -> None:
        if batch.upserts or batch.deletes:
            self.local.apply(batch.upserts, batch.deletes)
            if self.on_applied is not None:
                self.on_applied(batch, time.time())

    def _full_sync(self, feed: SiteFeed) -> None:
        t0 = time.time()
        log.info("fleet full sync of site %s", feed.who.site_id)
        self.state.put(change_id=None)
        upto = 0
        for batch in feed.snapshot(self.local.versions(), self.sync_chunk):
            if self._stop.is_set():
                raise _Stopped
            self._apply(batch)
            upto = batch.upto
        self.state.put(change_id=upto, site=feed.who.site_id, kiosk=feed.who.kiosk_id, confirmed=t0)
        self.full_sync_s = time.time() - t0
        log.info(
            "fleet full sync done: %d identities, change %d, %.1f s",
            len(self.local.gallery),
            upto,
            self.full_sync_s,
        )

    def _catch_up(self, feed: SiteFeed) -> None:
        while True:
            t0 = time.time()
            after = self.state.change_id or 0
            batch = feed.delta(after, self.sync_chunk)
            if batch.upto == after:
                self.state.put(confirmed=t0)  # the server had nothing newer at t0
                return
            self._apply(batch)
            self.state.put(change_id=batch.upto)
            if self._stop.is_set():
                raise _Stopped

    def _wait_for_change(self, conn: Any) -> None:
        deadline = time.monotonic() + self.poll_s
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for _ in conn.notifies(timeout=min(0.25, left), stop_after=1):
                return

    # -- audit upload ----------------------------------------------------------------------------
    def _upload_loop(self) -> None:
        self._run_loop("audit upload", self._upload_session)

    def _upload_session(self, backoff: Backoff) -> None:
        with self._connect(sync=False) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT id, site_id FROM fleet.kiosks WHERE role_name = current_user")
                who = cur.fetchone()
            conn.commit()
            if who is None:
                raise FleetError("this database role is not a registered kiosk (`biogate fleet kiosk add`)")
            backoff.reset()
            last_report = 0.0
            while not self._stop.is_set():
                self.state.wakeup.clear()
                sent = self._upload(conn, who[0], who[1])
                if time.monotonic() - last_report >= self.status_every_s:
                    self._report(conn)
                    last_report = time.monotonic()
                if not sent:
                    self.state.wakeup.wait(min(self.status_every_s, 1.0))
            self._upload(conn, who[0], who[1])  # what was spooled while stopping
            self._report(conn)

    def _upload(self, conn: Any, kiosk_id: str, site_id: str) -> int:
        rows = self.state.pending(self.upload_batch)
        if not rows:
            return 0
        import json

        cols: list[list[Any]] = [[], [], [], [], []]
        for _, event_id, rec in rows:
            for col, value in zip(
                cols, (event_id, rec.get("time"), rec.get("decision"), rec.get("identity"))
            ):
                col.append(value)
            cols[4].append(json.dumps(rec, ensure_ascii=False))
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "INSERT INTO fleet.audit_events"
                "(kiosk_id, event_id, site_id, t_event, decision, identity_id, record) "
                "SELECT %s, e::uuid, %s, t, d, i, r::jsonb "
                "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) AS u(e, t, d, i, r) "
                "ON CONFLICT DO NOTHING",
                (kiosk_id, site_id, *cols),
            )
            inserted = cur.rowcount
        self.state.mark_sent([r[0] for r in rows])  # only after the server committed them
        self.uploaded += inserted
        self.resent += len(rows) - inserted
        return len(rows)

    def _report(self, conn: Any) -> None:
        status = self.status()
        confirmed = self.state.confirmed
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "UPDATE fleet.kiosks SET last_seen = now(), last_sync = to_timestamp(%s), change_id = %s, "
                "spool_depth = %s, staleness_s = %s, agent = %s WHERE role_name = current_user",
                (
                    confirmed,
                    status["change_id"],
                    status["spool_depth"],
                    status["staleness_s"],
                    f"biogate {__version__}",
                ),
            )


class FreshGallery:
    """The gallery as the kiosk's match stage sees it: it matches nobody once the fleet copy is stale.

    Every other attribute is the wrapped gallery's.
    """

    def __init__(self, gallery: Gallery, agent: FleetAgent) -> None:
        self._gallery = gallery
        self._agent = agent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gallery, name)

    def __len__(self) -> int:
        return len(self._gallery)

    def __contains__(self, identity_id: object) -> bool:
        return identity_id in self._gallery

    def search(self, embedding: Any, k: int = 1, threshold: float | None = None) -> Matches:
        if not self._agent.fresh():
            self._agent.refused += 1
            return Matches()
        return self._gallery.search(embedding, k, threshold)

    def search_many(self, embeddings: Any, k: int = 1, threshold: float | None = None) -> list:
        if not self._agent.fresh():
            self._agent.refused += 1
            return [Matches() for _ in range(len(embeddings))]
        return self._gallery.search_many(embeddings, k, threshold)

    def verify(self, identity_id: str, embedding: Any, threshold: float | None = None) -> Any:
        if not self._agent.fresh():
            self._agent.refused += 1
            raise FleetError("the fleet gallery is too stale to verify anyone (server unreachable)")
        return self._gallery.verify(identity_id, embedding, threshold)
