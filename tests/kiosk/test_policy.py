"""Decision policy, table-driven; audit log format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biogate import ConfigError
from biogate.kiosk.audit import AuditLog
from biogate.kiosk.policy import ALARM, DENY, NONE, OPEN, DecisionPolicy, Evidence, PolicyConfig

S = 1_000_000_000
RGB = "rgb"  # these tables exercise the RGB liveness path (the default is the thermal skin check)
GOOD = dict(
    face_found=True, live=True, liveness_score=0.1, identity="alice", match_score=0.9, temperature_c=36.6
)

CASES = [
    ("no face", dict(face_found=False), NONE, "no face"),
    ("all good", GOOD, OPEN, "matched"),
    ("spoof", {**GOOD, "live": False}, DENY, "presentation attack"),
    ("liveness missing", {**GOOD, "live": None}, DENY, "liveness not checked"),
    ("unknown person", {**GOOD, "identity": None, "match_score": 0.31}, DENY, "no match"),
    ("fever", {**GOOD, "temperature_c": 38.2}, ALARM, "38.2"),
    ("fever and spoof", {**GOOD, "temperature_c": 38.2, "live": False}, ALARM, "presentation attack"),
    ("at threshold", {**GOOD, "temperature_c": 37.3}, ALARM, "37.3"),
    ("just below", {**GOOD, "temperature_c": 37.29}, OPEN, "matched"),
    ("no thermal camera", {**GOOD, "temperature_c": None}, OPEN, "matched"),
]


@pytest.mark.parametrize(("name", "fields", "action", "reason"), CASES, ids=[c[0] for c in CASES])
def test_decision_table(name, fields, action, reason):
    decision = DecisionPolicy(PolicyConfig(liveness_source=RGB)).decide(Evidence(t_capture=0, **fields))
    assert decision.action == action
    assert any(reason in r for r in decision.reasons), decision.reasons


def test_required_temperature_missing_denies():
    policy = DecisionPolicy(PolicyConfig(require_temperature=True, liveness_source=RGB))
    decision = policy.decide(Evidence(t_capture=0, **{**GOOD, "temperature_c": None}))
    assert decision.action == DENY and "no temperature reading" in decision.reasons


def test_liveness_not_required():
    policy = DecisionPolicy(PolicyConfig(require_liveness=False, liveness_source=RGB))
    assert policy.decide(Evidence(t_capture=0, **{**GOOD, "live": None})).action == OPEN


def test_open_cooldown_per_identity():
    policy = DecisionPolicy(PolicyConfig(open_cooldown_s=5, liveness_source=RGB))
    assert policy.decide(Evidence(t_capture=0, **GOOD)).action == OPEN
    assert policy.decide(Evidence(t_capture=2 * S, **GOOD)).action == NONE
    assert policy.decide(Evidence(t_capture=3 * S, **{**GOOD, "identity": "bob"})).action == OPEN
    assert policy.decide(Evidence(t_capture=6 * S, **GOOD)).action == OPEN


def test_deny_cooldown_per_track():
    policy = DecisionPolicy(PolicyConfig(deny_cooldown_s=2, liveness_source=RGB))
    unknown = {**GOOD, "identity": None, "track_key": "t1"}
    assert policy.decide(Evidence(t_capture=0, **unknown)).action == DENY
    assert policy.decide(Evidence(t_capture=S, **unknown)).action == NONE
    assert policy.decide(Evidence(t_capture=S, **{**unknown, "track_key": "t2"})).action == DENY
    assert policy.decide(Evidence(t_capture=3 * S, **unknown)).action == DENY


def test_alarm_cooldown_per_identity():
    policy = DecisionPolicy(PolicyConfig(deny_cooldown_s=2, liveness_source=RGB))
    fever = {**GOOD, "temperature_c": 38.5}
    assert policy.decide(Evidence(t_capture=0, **fever)).action == ALARM
    repeat = policy.decide(Evidence(t_capture=S, **fever))
    assert repeat.action == NONE and "alarm already sent" in repeat.reasons
    assert policy.decide(Evidence(t_capture=3 * S, **fever)).action == ALARM


@pytest.mark.parametrize("kwargs", [{"fever_c": 60.0}, {"open_cooldown_s": -1}, {"open_duration_ms": 10}])
def test_bad_policy_config(kwargs):
    with pytest.raises(ConfigError):
        PolicyConfig(**kwargs)


def test_audit_log_writes_json_lines_without_faces(tmp_path):
    path = tmp_path / "audit" / "log.jsonl"
    decision = DecisionPolicy(PolicyConfig(liveness_source=RGB)).decide(Evidence(t_capture=5, **GOOD))
    with AuditLog(path) as log:
        log.write(decision, {"detect": 3.21, "e2e": 40.0}, face=np.zeros((8, 8, 3), np.uint8))
    record = json.loads(path.read_text().splitlines()[0])
    assert record["decision"] == "open" and record["identity"] == "alice"
    assert record["latency_ms"]["e2e"] == 40.0 and "face_file" not in record
    assert not (tmp_path / "audit" / "log_faces").exists()


def test_audit_log_saves_faces_only_when_configured(tmp_path):
    path = tmp_path / "log.jsonl"
    decision = DecisionPolicy(PolicyConfig(liveness_source=RGB)).decide(Evidence(t_capture=7, **GOOD))
    with AuditLog(path, save_faces=True) as log:
        record = log.write(decision, {}, face=np.zeros((8, 8, 3), np.uint8))
    assert (tmp_path / "log_faces" / record["face_file"]).exists()


def test_audit_log_bad_path_is_config_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="audit log"):
        AuditLog(tmp_path / "file" / "log.jsonl")


THERMAL_CASES = [
    ("rgb", {"live": True, "thermal_live": False}, OPEN),
    ("thermal", {"live": None, "thermal_live": True}, OPEN),
    ("thermal", {"live": True, "thermal_live": False}, DENY),
    ("thermal", {"live": True, "thermal_live": None}, DENY),
    ("both", {"live": True, "thermal_live": True}, OPEN),
    ("both", {"live": False, "thermal_live": True}, DENY),
    ("both", {"live": True, "thermal_live": False}, DENY),
]


@pytest.mark.parametrize(("source", "fields", "action"), THERMAL_CASES)
def test_liveness_sources(source, fields, action):
    policy = DecisionPolicy(PolicyConfig(liveness_source=source))
    decision = policy.decide(Evidence(t_capture=0, **{**GOOD, **fields}))
    assert decision.action == action, decision.reasons
    if fields.get("thermal_live") is False and source != "rgb":
        assert any("no warm skin" in r for r in decision.reasons)


def test_unknown_liveness_source():
    with pytest.raises(ConfigError, match="liveness_source"):
        PolicyConfig(liveness_source="sonar")
