"""One simulated kiosk for ``bench_fleet.py``: a real sync agent, a local gallery, decisions.

    python benchmarks/_fleet_kiosk.py CONFIG_JSON

It syncs its own encrypted gallery from the fleet server with :class:`biogate.fleet.FleetAgent`
and makes a decision every ``decide_every_s`` (a 1:N search of a random probe through
:class:`~biogate.fleet.FreshGallery`, written to a real :class:`AuditLog` whose listener is the
agent's spool).  It reports on stdout, one JSON line per event: ``progress`` during the full
sync, ``synced`` when it is done, ``applied`` (identity ids and the wall time they reached the
index) for small delta batches, and ``status`` every second.  SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

from biogate.fleet import FleetAgent, FreshGallery  # noqa: E402
from biogate.gallery import Gallery, GalleryKey  # noqa: E402
from biogate.kiosk.audit import AuditLog  # noqa: E402
from biogate.kiosk.policy import DENY, OPEN, Decision  # noqa: E402

_out_lock = threading.Lock()


def emit(**fields) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    home = Path(cfg["home"])
    (home / "keys").mkdir(parents=True, exist_ok=True)
    key_file = home / "keys" / "gallery.key"
    if not key_file.exists():
        GalleryKey.generate().write(key_file)
    (home / "gallery").mkdir(exist_ok=True)  # the gallery refuses a key inside its own folder
    gallery = Gallery(home / "gallery" / "faces.db", GalleryKey.from_file(key_file), create=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_applied(batch, t_applied: float) -> None:
        items = [s.id for s in batch.upserts] + list(batch.deletes)
        if len(items) <= 200:
            emit(ev="applied", t=t_applied, ids=items)
        else:
            emit(ev="progress", n=len(gallery))

    agent = FleetAgent(
        cfg["dsn"],
        GalleryKey(bytes.fromhex(cfg["site_key"]), "bench site key"),
        gallery,
        str(home / "state.db"),
        poll_s=cfg["poll_s"],
        max_staleness_s=cfg["max_staleness_s"],
        reconnect_min_s=0.1,
        reconnect_max_s=cfg["reconnect_max_s"],
        status_every_s=1.0,
        on_applied=on_applied,
    )
    guarded = FreshGallery(gallery, agent)
    audit = AuditLog(home / "audit.jsonl")
    audit.listeners.append(agent.spool_record)
    agent.start()
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    synced = False
    decisions = offline = 0
    next_status = time.monotonic()
    while not stop.is_set():
        status = agent.status()
        if not synced and status["change_id"] is not None and status["fresh"]:
            synced = True
            emit(ev="synced", full_sync_s=agent.full_sync_s, n=len(gallery))
        if synced and gallery.dim:
            probe = rng.normal(size=gallery.dim).astype(np.float32)
            hits = guarded.search(probe, k=1)
            online = agent.connected
            action = OPEN if hits and hits[0].score > 0.9 else DENY
            decision = Decision(action, time.monotonic_ns(), hits[0].identity_id if hits else None, ["bench"])
            audit.write(decision, {"search": 0.0}, extra={"t_wall": time.time(), "online": online})
            decisions += 1
            offline += not online
        if time.monotonic() >= next_status:
            next_status += 1.0
            emit(ev="status", decisions=decisions, offline=offline, **status)
        stop.wait(cfg["decide_every_s"])
    agent.stop()
    audit.close()
    final = agent.last_status
    emit(ev="stopped", decisions=decisions, offline=offline, **final)
    gallery.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
