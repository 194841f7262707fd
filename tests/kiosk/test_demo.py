"""The kiosk demo scenario end to end: real bundles, real gallery, firmware simulator on a pty.

Uses the five kiosk bundles (MTCNN ×3, dlib embedder, liveness) the session exports once,
then runs ``biogate demo``'s scenario: two enrolled people (open), an unknown person (deny),
a printed photo of an enrolled person (deny) and a feverish enrolled person (alarm).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow


def test_kiosk_demo_makes_every_expected_decision(tmp_path_factory, kiosk_bundles, capsys):
    from biogate.exporters.kiosk_demo import run_kiosk_demo

    work = tmp_path_factory.mktemp("demo")
    status = run_kiosk_demo(work, fps=15.0, cache=kiosk_bundles.parent)  # the session's bundles
    out = capsys.readouterr().out
    assert status == 0, out
    assert "demo passed" in out
    records = [json.loads(line) for line in (work / "audit.jsonl").read_text().splitlines()]
    actions = [r["decision"] for r in records]
    assert actions.count("open") == 2 and "alarm" in actions and actions.count("deny") >= 2
    assert all("capture_to_gate" in r["latency_ms"] for r in records)
    assert not (work / "audit_faces").exists()  # no face images unless configured
