"""The kiosk's track stage: each face gets a stable track key, so unknown people do not share one cooldown.

Before the stage existed ``track_key`` was read by the policy but never written: every unknown
face fell under the single key "unknown", so a second stranger within ``deny_cooldown_s`` of the
first got no deny at all. Detections here are real ``FaceDetection`` records; the tracker is the
real IoU tracker.
"""

from __future__ import annotations

import numpy as np

from biogate.frame import Frame
from biogate.kiosk.decide import evidence_from
from biogate.kiosk.findings import Findings
from biogate.kiosk.policy import DENY, NONE, DecisionPolicy, PolicyConfig
from biogate.kiosk.stages import TrackStage
from biogate.models.detect_ops import box_quads
from biogate.models.face_detect import FaceDetection
from biogate.pipeline import Work

IMAGE = np.zeros((480, 640, 3), np.uint8)
MS = 1_000_000


def _work(t_ms: float, *boxes) -> Work:
    faces = [
        FaceDetection(np.array(b, np.float32), box_quads(np.array([b], np.float32))[0], 0.99) for b in boxes
    ]
    return Work(Frame(IMAGE, "bgr8", int(t_ms * MS)), Findings(faces=faces, face=faces[0] if faces else None))


def test_a_face_keeps_its_key_while_it_stays_and_a_new_one_gets_another():
    stage = TrackStage(max_gap_ms=500)
    keys = [
        stage.process(_work(t, (200 + t / 20, 100, 400 + t / 20, 300))).results.track_key
        for t in range(0, 700, 70)
    ]
    assert keys[0] is not None and set(keys) == {keys[0]}  # one person, moving a little
    after_pause = stage.process(_work(1500, (200, 100, 400, 300))).results.track_key
    assert after_pause not in (None, keys[0])  # someone stepped up after a pause: a new track
    two = stage.process(_work(1570, (205, 100, 405, 300), (10, 10, 90, 90)))  # largest first
    assert two.results.track_key == after_pause  # the decided face is the one already tracked


def test_two_unknown_people_each_get_their_deny():
    policy = DecisionPolicy(PolicyConfig(require_liveness=False, deny_cooldown_s=2.0))
    stage = TrackStage(max_gap_ms=500)
    first = [
        policy.decide(evidence_from(stage.process(_work(t, (200, 100, 400, 300))))).action for t in (0, 70)
    ]
    second = policy.decide(evidence_from(stage.process(_work(900, (220, 110, 420, 310))))).action
    assert first == [DENY, NONE]  # the same stranger is not re-denied within the cooldown
    assert second == DENY  # a new stranger 0.9 s later is denied too, not silenced by the first's cooldown
