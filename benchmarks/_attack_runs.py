"""Running the real kiosk for ``bench_attacks.py``: one walk-up session, and delete-while-running.

A session is the real thing end to end: ``build_kiosk`` from a parsed configuration (signed
bundles, the encrypted gallery, sharpness gate, MTCNN, dlib embedder, liveness and thermal
stages, policy, audit log) commanding the C gate firmware on a pty (``GateSimulator``) through the
authenticated link (``GateClient``). Relay opens are counted from the simulator's trace: every
executed OPEN command (``"ev": "exec", "type": 16``), stamped when its trace line arrives.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _attack_scene import Cameras, Presentation

OPEN_TYPE = 0x10  # MsgType.OPEN


@dataclass
class Session:
    """What one walk-up session did: per presentation, the decisions and the relay opens."""

    started: bool
    error: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per presentation
    relay_opens: int = 0  # executed OPENs in the simulator's trace
    decision_opens: int = 0
    notices: list[str] = field(default_factory=list)
    pipeline_errors: dict[str, int] = field(default_factory=dict)


def prepare_work(work: Path, config: Any, bundles: Path, enrol_from: Path) -> bytes:
    """The gallery ``config`` names, with the enrolled visitors of ``enrol_from`` (a visitors folder)
    enrolled as the demo enrols them; keys outside the gallery's folder. Returns the gate key."""
    from biogate.firmware_bridge.keys import generate_key_file, load_key
    from biogate.gallery import Gallery, GalleryKey
    from biogate.kiosk.demo import enrol_visitors

    db, key_file = Path(config.resolve(config.gallery.path)), Path(config.resolve(config.gallery.key_file))
    gate_key = work / "keys" / "gate.key"
    for folder in (db.parent, key_file.parent, gate_key.parent):
        folder.mkdir(parents=True, exist_ok=True)
    GalleryKey.generate().write(key_file)
    generate_key_file(str(gate_key))
    with Gallery(db, GalleryKey.from_file(key_file), create=True) as gallery:
        enrol_visitors(bundles, gallery, lambda *_: None, visitors=enrol_from)
    return load_key(str(gate_key))


class Trace:
    """Arrival times (monotonic ns) of the executed OPEN commands in a simulator's trace."""

    def __init__(self, sim: Any) -> None:
        self.opens: list[int] = []
        sim.listeners.append(self._event)

    def _event(self, event: dict[str, Any]) -> None:
        if event.get("ev") == "exec" and event.get("type") == OPEN_TYPE:
            self.opens.append(time.monotonic_ns())


def run_session(
    config: Any, key: bytes, folder: Path, presentations: list[Presentation], **walkup: Any
) -> Session:
    """Walk ``presentations`` (written to the visitors folder ``folder``) up to the kiosk ``config``
    describes; ``walkup``: ``synthetic://walkup`` options (``dwell_s``, ``gap_s``, ``seed``).
    ``started`` is False when the kiosk refused to start."""
    from biogate.errors import BiogateError
    from biogate.firmware_bridge import GateClient, GateSimulator
    from biogate.kiosk.app import build_kiosk

    decisions: list[Any] = []
    with GateSimulator(key, trace=True) as sim:
        trace = Trace(sim)
        with GateClient(sim.port, key, heartbeat_s=config.gate.heartbeat_s) as gate:
            cams = Cameras(folder, presentations, config, **walkup)
            try:
                kiosk = build_kiosk(
                    config, source=cams, thermal_source=cams.thermal, gate=gate, on_decision=decisions.append
                )
            except BiogateError as exc:
                return Session(False, f"{type(exc).__name__}: {exc}")
            seconds = len(presentations) * (walkup.get("dwell_s", 1.6) + walkup.get("gap_s", 0.6))
            with kiosk:
                kiosk.wait(timeout=seconds + 60.0)
            errors = dict(kiosk.stats()["errors"])
        sim.sim_status()  # every command is executed and traced before this answers
    return _session(kiosk, decisions, trace, cams.segments, errors)


def _session(kiosk: Any, decisions: list[Any], trace: Trace, segments: list, errors: dict) -> Session:
    session = Session(True, notices=list(kiosk.notices), pipeline_errors=errors)
    session.relay_opens = len(trace.opens)
    session.decision_opens = sum(1 for r in decisions if r.decision.action == "open")
    starts = [t0 for t0, _, _ in segments]
    for k, (t0, t1, p) in enumerate(segments):
        mine = [r.decision for r in decisions if t0 <= r.decision.t_capture <= t1]
        t_next = starts[k + 1] if k + 1 < len(starts) else float("inf")
        reasons = Counter(reason for d in mine if d.action != "open" for reason in d.reasons[:1])
        session.rows.append(
            {
                "label": p.label,
                "kind": p.kind,
                "species": p.species,
                "identity": p.identity,
                "decisions": Counter(d.action for d in mine),
                "opened_for": sorted({d.identity for d in mine if d.action == "open"}),
                "relay_opens": sum(1 for t in trace.opens if t0 <= t < t_next),
                "why_not": reasons.most_common(1)[0][0] if reasons else "",
            }
        )
    before = sum(1 for t in trace.opens if not starts or t < starts[0])
    if before and session.rows:
        session.rows[0]["relay_opens"] += before  # never silently dropped
    return session


def delete_cli(db: Path, key_file: Path, identity: str) -> subprocess.CompletedProcess:
    """``biogate gallery delete`` in a subprocess, exactly as an operator types it."""
    cmd = [sys.executable, "-m", "biogate.cli.main", "gallery", "delete", "--gallery", str(db)]
    cmd += ["--key-file", str(key_file), "--id", identity]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def revocation_trials(
    config: Any, key: bytes, folder: Path, shown: Presentation, trials: int, observe_s: float = 2.5
) -> dict[str, Any]:
    """Delete-while-running: ``shown`` (the visitors folder ``folder``) stands at the kiosk throughout,
    enrolled as ``rev-k`` for trial k (with the templates the gallery held for them).

    Per trial: enrol ``rev-k`` (a second writer, as an enrolment station's), wait until the kiosk
    has opened for it 3 times, run ``biogate gallery delete --id rev-k`` in a subprocess, then watch
    the relay trace for ``observe_s``. The sample is the time from the delete command's return to
    the last OPEN after it (0 when none came after it); an OPEN more than 1 s after the return is a
    wrong open (a revoked identity let in).
    """
    from biogate.firmware_bridge import GateClient, GateSimulator
    from biogate.gallery import Gallery, GalleryKey
    from biogate.kiosk.app import build_kiosk

    db, key_file = Path(config.resolve(config.gallery.path)), Path(config.resolve(config.gallery.key_file))
    samples: list[float] = []
    signed: list[float] = []  # last OPEN of the trial minus the delete's return (negative: before it)
    rows: list[dict[str, Any]] = []
    late = 0
    with GateSimulator(key, trace=True) as sim, Gallery(db, GalleryKey.from_file(key_file)) as station:
        templates = station.templates(shown.identity)
        station.delete(shown.identity)  # from now on they are known only as rev-k
        trace = Trace(sim)
        with GateClient(sim.port, key, heartbeat_s=config.gate.heartbeat_s) as gate:
            cams = Cameras(folder, [shown], config, dwell_s=1.0, gap_s=0.0, count=100_000)  # stays there
            kiosk = build_kiosk(config, source=cams, thermal_source=cams.thermal, gate=gate)
            with kiosk:
                for k in range(trials):
                    ident = f"rev-{k:02d}"
                    n0 = len(trace.opens)
                    station.enroll(ident, ident, templates)
                    deadline = time.monotonic() + 10.0
                    while len(trace.opens) < n0 + 3 and time.monotonic() < deadline:
                        time.sleep(0.02)  # a benchmark, not a test: polling the trace is fine here
                    opening = len(trace.opens) - n0
                    t_cmd = time.monotonic_ns()
                    done = delete_cli(db, key_file, ident)
                    t_ret = time.monotonic_ns()
                    time.sleep(observe_s)
                    after = [(t - t_ret) / 1e6 for t in trace.opens[n0:] if t > t_ret]
                    if len(trace.opens) > n0:
                        signed.append((trace.opens[-1] - t_ret) / 1e6)
                    sample = max(after, default=0.0)
                    late += sum(1 for a in after if a > 1000.0)
                    valid = opening >= 3 and done.returncode == 0
                    if valid:
                        samples.append(sample)
                    rows.append(
                        {
                            "trial": k,
                            "opens_before_delete": opening,
                            "opens_after_delete": len(after),
                            "last_open_after_delete_ms": round(sample, 1),
                            "delete_rc": done.returncode,
                            "delete_cli_ms": round((t_ret - t_cmd) / 1e6, 1),
                            "opens_while_delete_ran": sum(1 for t in trace.opens[n0:] if t_cmd < t <= t_ret),
                            "valid": valid,
                            "delete_stderr": done.stderr.strip()[-200:],
                        }
                    )
                cams.close()
        sim.sim_status()
    return {"samples_ms": samples, "signed_ms": signed, "rows": rows, "late_opens": late}
