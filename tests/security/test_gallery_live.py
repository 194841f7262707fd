"""Issue #16 finding 2: deleting a person must revoke a running kiosk, without a restart.

A kiosk process keeps its gallery open and decides through the real ``MatchStage``; the
operator changes the gallery with the real CLI in other processes.  Fails on the main of the
finding (nothing reloaded the gallery) and passes now.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import biogate.gallery
from biogate.gallery import Gallery, GalleryKey

from .gallery_helpers import DIM, Worker, cli, gallery_path, key_file, templates

KIOSK = """
import sys, time
from types import SimpleNamespace
import numpy as np
from biogate.gallery import Gallery, GalleryKey
from biogate.kiosk.findings import Findings
from biogate.kiosk.stages import MatchStage
# (refresh_s only where the SDK has it, so that an SDK without live changes fails on the decision)
live = {{"refresh_s": {refresh!r}}} if "refresh_s" in Gallery.__init__.__code__.co_varnames else {{}}
gallery = Gallery({db!r}, GalleryKey.from_file({key!r}), **live)
stage = MatchStage(gallery, 0.8)  # the kiosk's own threshold: kiosk.toml or the embedder's
print("ready")
for line in sys.stdin:
    probe, not_before = line.split()
    time.sleep(max(0.0, float(not_before) - time.monotonic()))  # the contract: refresh_s after the change
    work = SimpleNamespace(results=Findings(embedding=np.load(probe)))
    stage.process(work)
    print("decided", work.results.identity or "-", getattr(gallery, "stored_threshold", None))
"""


def _noisy(seed: int, noise: float) -> np.ndarray:
    base = templates(seed, 1)[0]
    rng = np.random.default_rng(seed + 1000)
    return (base / np.linalg.norm(base) + noise * rng.standard_normal(DIM) / np.sqrt(DIM)).astype(np.float32)


class _Kiosk:
    """The kiosk process: ``decide(probe, changed_at)`` decides ``refresh_s`` after ``changed_at``."""

    def __init__(self, db: Path, kf: Path, refresh: float) -> None:
        self.refresh = refresh
        self.worker = Worker(KIOSK.format(db=str(db), key=str(kf), refresh=refresh))
        self.worker.expect("ready")

    def decide(self, probe: Path, changed_at: float = 0.0) -> list[str]:
        self.worker.send(f"{probe} {changed_at + self.refresh}")
        return self.worker.expect("decided").split()[1:]


def _gallery(tmp_path: Path, kf: Path, name: str) -> Path:
    db = gallery_path(tmp_path, name)
    with Gallery(db, GalleryKey.from_file(kf), create=True) as gallery:
        gallery.enroll_many([("ALICE", "Alice", templates(1, 1)), ("BOB", "Bob", templates(2, 1))])
    return db


def test_running_kiosk_follows_delete_enrol_and_threshold_without_a_restart(tmp_path: Path) -> None:
    kf = key_file(tmp_path)
    probes = {}
    for who, seed in (("alice", 1), ("bob", 2), ("carol", 3)):
        probes[who] = tmp_path / f"{who}.npy"
        np.save(probes[who], _noisy(seed, 0.3))  # the same person again: cosine about 0.96
    np.save(tmp_path / "carol_enrol.npy", templates(3, 1))
    enrol = ["--id", "CAROL", "--name", "Carol", "--embeddings", str(tmp_path / "carol_enrol.npy")]
    # refresh_s=0: every decision checks first, so "after the change" needs no clock at all;
    # REFRESH_S: the shipped default (0.1 s), decided refresh_s after the change returned.
    for refresh in (0, getattr(biogate.gallery, "REFRESH_S", 0.1)):
        db = _gallery(tmp_path, kf, f"faces-{refresh}.db")
        base = ["--gallery", str(db), "--key-file", str(kf)]
        kiosk = _Kiosk(db, kf, refresh)
        try:
            assert kiosk.decide(probes["bob"])[0] == "BOB" and kiosk.decide(probes["alice"])[0] == "ALICE"
            assert cli("gallery", "delete", *base, "--id", "BOB").returncode == 0
            assert kiosk.decide(probes["bob"], time.monotonic())[0] == "-"  # revoked while running
            assert kiosk.decide(probes["carol"])[0] == "-"
            assert cli("enroll", *base, *enrol).returncode == 0
            assert kiosk.decide(probes["carol"], time.monotonic())[0] == "CAROL"  # enrolled while running
            assert cli("gallery", "threshold", *base, "--set", "0.99").returncode == 0
            assert kiosk.decide(probes["alice"], time.monotonic()) == ["-", "0.99"]  # stricter at once
            assert cli("gallery", "threshold", *base, "--clear").returncode == 0
            assert kiosk.decide(probes["alice"], time.monotonic()) == ["ALICE", "None"]
        finally:
            kiosk.worker.close()
