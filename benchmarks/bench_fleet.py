"""Fleet: ≥ 20 kiosks (separate processes, each a real sync agent) against one PostgreSQL.

    python benchmarks/bench_fleet.py --json fleet.json
    python benchmarks/bench_fleet.py --quick          # 6 kiosks, 3 000 identities: a smoke run

A throwaway PostgreSQL (initdb + pg_ctl, loopback, fsync on) is started here.  Phases:

1. enrol ``--identities`` (100 000) at site ``hq`` centrally, and smaller sites;
2. time one kiosk's full sync of hq alone (``full_sync_100k_s``), then start the others and kill
   some mid-full-sync (SIGKILL) and restart them (the sync resumes);
3. load: revoke and enrol one identity every ``--change-every-s`` while every kiosk decides every
   ``--decide-every-s``; propagation = the enrolment station's commit → applied in the kiosk's
   index, per (change, kiosk); kiosks are killed and restarted mid-run; the server is stopped
   for ``--outage-s`` and started again (kiosks keep deciding: ``offline_decisions``);
4. drain: every audit event in every kiosk's spool must be on the server exactly once.

Templates are random 128-d vectors (speed, not accuracy).  Propagation is measured only at
kiosks that were up: a killed kiosk's backlog is counted in ``resynced_after_kill_s``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import base_parser, latency_stats, print_table, write_report  # noqa: E402

from biogate.fleet import FleetAdmin, connect, migrate  # noqa: E402
from biogate.fleet.pgtemp import TempPostgres, find_pg_bin  # noqa: E402
from biogate.gallery import Enrollment, GalleryKey  # noqa: E402


class Kiosk:
    """One kiosk process and what it reported."""

    def __init__(self, kid: str, site: str, dsn: str, home: Path, cfg: dict[str, Any], inbox: queue.Queue):
        self.kid, self.site, self.home, self.inbox = kid, site, home, inbox
        home.mkdir(parents=True, exist_ok=True)
        self.cfg_path = home / "kiosk.json"
        self.cfg_path.write_text(json.dumps({**cfg, "dsn": dsn, "home": str(home)}))
        self.proc: subprocess.Popen | None = None
        self.synced = threading.Event()
        self.status: dict[str, Any] = {}
        self.status_t = 0.0
        self.progress = 0
        self.full_sync_s: float | None = None
        self.down: list[list[float]] = []  # [killed at, back at] intervals

    def start(self) -> None:
        self.synced.clear()
        log = (self.home / "stderr.log").open("a")
        cmd = ["nice", "-n", "2", sys.executable, str(HERE / "_fleet_kiosk.py"), str(self.cfg_path)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with contextlib.suppress(ValueError):
                self.inbox.put((self, json.loads(line)))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.down.append([time.time(), float("inf")])

    def crashed(self) -> str | None:
        """The tail of its stderr when the process ended on its own (not killed or stopped by us)."""
        ours = (0, -signal.SIGKILL, -signal.SIGTERM)
        if self.proc is None or self.proc.poll() is None or self.proc.returncode in ours:
            return None
        tail = (self.home / "stderr.log").read_text(errors="replace").strip().splitlines()[-1:]
        return f"kiosk {self.kid} exited with {self.proc.returncode}: {' '.join(tail)}"

    def terminate(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def was_down(self, t0: float, t1: float) -> bool:
        return any(a <= t1 and t0 <= b for a, b in self.down)

    def spooled_events(self) -> list[str]:
        with sqlite3.connect(self.home / "state.db") as db:
            return [r[0] for r in db.execute("SELECT event_id FROM spool")]


class Bench:
    def __init__(self, args: Any) -> None:
        self.args = args
        self.inbox: queue.Queue = queue.Queue()
        self.applied: dict[tuple[str, str], list[float]] = {}
        self.root = Path(tempfile.mkdtemp(prefix="biogate-fleetbench-"))
        self.rng = np.random.default_rng(0)
        self.kiosks: list[Kiosk] = []

    def pump(self, timeout: float = 0.05) -> None:
        """Handle the kiosks' reports."""
        try:
            kiosk, msg = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            ev = msg.get("ev")
            if ev == "applied":
                for ident in msg["ids"]:
                    self.applied.setdefault((kiosk.kid, ident), []).append(msg["t"])
            elif ev == "synced":
                if kiosk.full_sync_s is None:
                    kiosk.full_sync_s = msg["full_sync_s"]
                if kiosk.down and kiosk.down[-1][1] == float("inf"):
                    kiosk.down[-1][1] = time.time()
                kiosk.synced.set()
            elif ev == "progress":
                kiosk.progress += 1
            elif ev in ("status", "stopped"):
                kiosk.status, kiosk.status_t = msg, time.time()
            try:
                kiosk, msg = self.inbox.get_nowait()
            except queue.Empty:
                return

    def wait(self, predicate, timeout: float, what: str) -> float:
        t0 = time.time()
        while not predicate():
            if time.time() - t0 > timeout:
                raise SystemExit(f"bench_fleet: timed out after {timeout:.0f} s waiting for {what}")
            for kiosk in self.kiosks:  # a kiosk that died on its own would stall every wait
                crash = kiosk.crashed()
                if crash:
                    raise SystemExit(f"bench_fleet: {crash} (waiting for {what})")
            self.pump()
        return time.time() - t0

    def templates(self, n: int) -> np.ndarray:
        return self.rng.normal(size=(n, self.args.dim)).astype(np.float32)


def _enrol(
    admin: FleetAdmin, site: str, key: GalleryKey, ids: list[str], bench: Bench, chunk: int = 5000
) -> None:
    for i in range(0, len(ids), chunk):
        part = ids[i : i + chunk]
        admin.enroll_many(
            site, key, [Enrollment(x, f"person {x}", t) for x, t in zip(part, bench.templates(len(part)))]
        )


def run(args: Any) -> dict[str, Any]:
    bench = Bench(args)
    pg = TempPostgres(durable=True, settings={"max_connections": 4 * args.kiosks + 20})
    try:
        return _run(args, bench, pg)
    finally:
        pg.close()
        shutil.rmtree(bench.root, ignore_errors=True)


def _run(args: Any, bench: Bench, pg: TempPostgres) -> dict[str, Any]:
    dsn = pg.create_database("fleetbench")
    with connect(dsn) as conn:
        migrate(conn, "fb")
        conn.commit()
    owner = FleetAdmin.connect(dsn)
    sites = ["hq"] + [f"s{i}" for i in range(1, args.small_sites + 1)]
    keys = {s: GalleryKey.generate() for s in sites}
    for s in sites:
        owner.add_site(s, s, keys[s], args.dim)
    # Enrolment and revocation run as an enrolment station would: the least-privilege login.
    station = pg.dsn("fleetbench", "fb_u_station", owner.add_user("fb_u_station", "enrol"))
    admin = FleetAdmin.connect(station)
    t0 = time.time()
    _enrol(admin, "hq", keys["hq"], [f"E{i:06d}" for i in range(args.identities)], bench)
    enrol_s = time.time() - t0
    for s in sites[1:]:
        _enrol(admin, s, keys[s], [f"{s}-{i:05d}" for i in range(args.small_identities)], bench)
    cfg = {
        "poll_s": args.poll_s,
        "max_staleness_s": args.max_staleness_s,
        "reconnect_max_s": args.reconnect_max_s,
        "decide_every_s": args.decide_every_s,
    }
    kiosks: list[Kiosk] = bench.kiosks
    for i in range(args.kiosks):
        site = "hq" if i < args.big_site_kiosks else sites[1 + (i - args.big_site_kiosks) % args.small_sites]
        role, password = owner.add_kiosk(f"k{i:02d}", site)
        kdsn = pg.dsn("fleetbench", role, password)
        kiosks.append(
            Kiosk(
                f"k{i:02d}",
                site,
                kdsn,
                bench.root / f"k{i:02d}",
                {**cfg, "site_key": keys[site].secret.hex()},
                bench.inbox,
            )
        )
    owner.close()
    by_site = {s: [k for k in kiosks if k.site == s] for s in sites}
    print(
        f"enrolled {args.identities} at hq in {enrol_s:.1f} s; {len(kiosks)} kiosks on {len(sites)} sites",
        flush=True,
    )

    # -- phase 2: one kiosk's full sync of hq alone, then everyone, with kills mid-sync ----------
    first = kiosks[0]
    first.start()
    bench.wait(first.synced.is_set, 1800, "the first full sync")
    print(f"full sync of {args.identities} identities: {first.full_sync_s:.1f} s", flush=True)
    for k in kiosks[1:]:
        k.start()
    victims = [k for k in (by_site["hq"][1:2] + by_site[sites[1]][:1]) if k]
    killed_mid_sync = 0
    for victim in victims:  # SIGKILL while its full sync is running, then start it again
        bench.wait(lambda v=victim: v.progress or v.synced.is_set(), 600, f"{victim.kid} to start syncing")
        if not victim.synced.is_set():
            killed_mid_sync += 1
        victim.kill()
        victim.start()
    bench.wait(lambda: all(k.synced.is_set() for k in kiosks), 3600, "every kiosk's full sync")
    print(f"all {len(kiosks)} kiosks synced; {killed_mid_sync} killed mid-sync and resumed", flush=True)

    # -- phase 3: revocations and enrolments under load, kills, a server outage ------------------
    changes: list[tuple[str, str, str, float]] = []  # kind, site, id, t_commit
    enrolled = {s: [] for s in sites}
    t_start = time.time()
    outage = {"down": None, "up": None, "reconnect_s": None}
    killed_in_load = 0
    n = 0
    next_change = time.time()
    while time.time() - t_start < args.load_s:
        bench.pump(0.01)
        elapsed = time.time() - t_start
        if killed_in_load == 0 and elapsed > args.load_s * 0.25:
            for k in (by_site["hq"][-1], by_site[sites[-1]][-1]):
                k.kill()
                k.start()
                killed_in_load += 1
        if outage["down"] is None and elapsed > args.load_s * 0.5:
            admin.close()
            pg.stop("fast")
            outage["down"] = time.time()
            bench.wait(lambda: time.time() - outage["down"] >= args.outage_s, args.outage_s + 5, "outage")
            outage["up_begin"] = time.time()
            pg.start()
            outage["up"] = time.time()
            admin = FleetAdmin.connect(station)
            up = outage["up"]
            outage["reconnect_s"] = bench.wait(
                lambda up=up: all(k.status.get("connected") and k.status_t > up + 0.05 for k in kiosks),
                120,
                "every kiosk to reconnect",
            )
            next_change = time.time()
        if time.time() < next_change:
            continue
        next_change += args.change_every_s
        site = sites[n % len(sites)]
        if n % 2 == 0 or not enrolled[site]:
            ident = f"L{n:06d}"
            admin.enroll_many(site, keys[site], [Enrollment(ident, "new", bench.templates(1))])
            enrolled[site].append(ident)
            kind = "enrol"
        else:
            ident = enrolled[site].pop(0)
            admin.delete(site, ident, "bench")
            kind = "revoke"
        changes.append((kind, site, ident, time.time()))
        n += 1

    # -- phase 4: drain, stop, count ------------------------------------------------------------
    def caught_up() -> bool:
        return all((k.kid, c[2]) in bench.applied for c in changes for k in by_site[c[1]])

    bench.wait(caught_up, 120, "every change at every kiosk")
    bench.wait(lambda: all(k.status.get("spool_depth") == 0 for k in kiosks), 120, "spools to drain")
    for k in kiosks:
        k.terminate()
    bench.wait(lambda: all(k.proc.poll() is not None for k in kiosks), 120, "kiosks to stop")
    bench.pump(0.2)
    return _report(
        args,
        bench,
        admin,
        dsn,
        kiosks,
        by_site,
        changes,
        outage,
        enrol_s,
        first,
        killed_mid_sync,
        killed_in_load,
    )


def _report(
    args, bench, admin, dsn, kiosks, by_site, changes, outage, enrol_s, first, killed_mid_sync, killed_in_load
):
    lat: dict[str, list[float]] = {"enrol": [], "revoke": []}
    missing = 0
    for kind, site, ident, t_commit in changes:
        for k in by_site[site]:
            if k.was_down(t_commit - 1.0, t_commit + 30.0):
                continue  # a killed kiosk catches up on restart; not a propagation sample
            times = [t for t in bench.applied.get((k.kid, ident), []) if t >= t_commit - 0.5]
            if not times:
                missing += 1
                continue
            lat[kind].append(max(0.0, min(times) - t_commit) * 1000)
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT kiosk_id, event_id::text, (record->>'t_wall')::float FROM fleet.audit_events"
        ).fetchall()
    server: dict[tuple[str, str], int] = {}
    for kid, eid, _ in rows:
        key = (kid, uuid.UUID(eid).hex)
        server[key] = server.get(key, 0) + 1
    truth = {(k.kid, e) for k in kiosks for e in k.spooled_events()}
    offline = sum(1 for _, _, t in rows if t is not None and outage["down"] <= t <= outage["up_begin"])
    resent = sum(k.status.get("resent_deduplicated", 0) for k in kiosks)
    results = [{"case": f"{kind} propagation", **latency_stats(v)} for kind, v in lat.items() if v]
    print_table(results, ["case", "p50_ms", "p99_ms", "mean_ms", "n"])
    summary = {
        "server": "postgresql",
        "kiosks": len(kiosks),
        "revocation_p50_ms": round(float(np.percentile(lat["revoke"], 50)), 1),
        "revocation_p99_ms": round(float(np.percentile(lat["revoke"], 99)), 1),
        "enrol_propagation_p50_ms": round(float(np.percentile(lat["enrol"], 50)), 1),
        "enrol_propagation_p99_ms": round(float(np.percentile(lat["enrol"], 99)), 1),
        "full_sync_100k_s": round(first.full_sync_s, 2),
        "identities_at_hq": args.identities,
        "central_enrol_s": round(enrol_s, 1),
        "lost_events": len(truth - set(server)),
        "duplicate_events": sum(c - 1 for c in server.values()),
        "unknown_events": len(set(server) - truth),
        "events": len(truth),
        "resent_deduplicated": resent,
        "offline_decisions": offline,
        "outage_s": round(outage["up_begin"] - outage["down"], 1),
        "reconnect_after_outage_s": round(outage["reconnect_s"], 2),
        "killed_mid_sync": killed_mid_sync,
        "killed_under_load": killed_in_load,
        "propagation_missing": missing,
        "changes": len(changes),
    }
    config = {k: v for k, v in vars(args).items() if k not in ("json", "plot")}
    return write_report(args, "fleet", config, results, summary)


def main() -> int:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--identities", type=int, default=100_000, help="enrolled at site hq")
    parser.add_argument("--big-site-kiosks", type=int, default=4, help="kiosks at hq (each syncs all)")
    parser.add_argument("--small-sites", type=int, default=4)
    parser.add_argument("--small-identities", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--load-s", type=float, default=90.0)
    parser.add_argument("--outage-s", type=float, default=8.0)
    parser.add_argument("--change-every-s", type=float, default=0.25)
    parser.add_argument("--decide-every-s", type=float, default=0.2)
    parser.add_argument("--poll-s", type=float, default=2.0)
    parser.add_argument("--max-staleness-s", type=float, default=120.0)
    parser.add_argument("--reconnect-max-s", type=float, default=2.0)
    args = parser.parse_args()
    if args.quick:
        args.kiosks, args.identities, args.big_site_kiosks = 6, 3000, 2
        args.small_sites, args.small_identities, args.load_s, args.outage_s = 2, 500, 20.0, 3.0
    if find_pg_bin() is None:
        print(
            "bench_fleet: no PostgreSQL binaries (initdb, pg_ctl) found; install postgresql", file=sys.stderr
        )
        return 2
    report = run(args)
    s = report["summary"]
    ok = s["revocation_p99_ms"] <= 2000 and s["lost_events"] == 0 and s["duplicate_events"] == 0
    return 0 if ok and s["offline_decisions"] > 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
