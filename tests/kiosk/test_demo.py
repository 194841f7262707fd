"""The kiosk demo scenario end to end: real bundles, real gallery, firmware simulator on a pty.

Uses the demo folder the session prepares once (``kiosk_bundles``: the five kiosk bundles, MTCNN ×3, dlib
embedder, liveness, and the walk-up's visitors), then runs ``biogate demo``'s scenario on it:
two enrolled people (open), an unknown person (deny), a printed photo of an enrolled person
(deny) and a feverish enrolled person (alarm).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow


def test_kiosk_demo_makes_every_expected_decision(kiosk_bundles, tmp_path_factory, capsys):
    from biogate.kiosk.demo import run_kiosk_demo

    work = tmp_path_factory.mktemp("demo")
    status = run_kiosk_demo(kiosk_bundles, work, fps=15.0)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "demo passed" in out
    records = [json.loads(line) for line in (work / "audit.jsonl").read_text().splitlines()]
    actions = [r["decision"] for r in records]
    assert actions.count("open") == 2 and "alarm" in actions and actions.count("deny") >= 2
    assert all("capture_to_gate" in r["latency_ms"] for r in records)
    assert not (work / "audit_faces").exists()  # no face images unless configured
