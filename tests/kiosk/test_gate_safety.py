"""A crashing or slow model must never open the gate, and the pipeline keeps serving.

Runs the real firmware (C host build) on a pseudo-terminal through GateClient; the model
objects are small test doubles with the kiosk stages' duck-typed interfaces.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from biogate.frame import Frame, now_ns
from biogate.kiosk.decide import DecisionSink
from biogate.kiosk.findings import Findings
from biogate.kiosk.policy import DecisionPolicy, PolicyConfig
from biogate.kiosk.stages import DetectStage, EmbedStage, LivenessStage, MatchStage
from biogate.models import FaceChain
from biogate.pipeline import Pipeline

firmware_bridge = pytest.importorskip("biogate.firmware_bridge")


class OneFace:
    def detect(self, image, order="BGR"):
        return [SimpleNamespace(box=np.array([100, 100, 300, 300], np.float32), landmarks=None, score=0.99)]


class Live:
    def __call__(self, image, box=None):
        return SimpleNamespace(delta=0.01, is_live=True, threshold=0.1)


class CrashingEmbedder:
    """Crashes on every frame (a corrupted model, an ONNX Runtime error)."""

    def __init__(self):
        self.calls = 0

    def embed(self, image, faces, order="BGR"):
        self.calls += 1
        raise RuntimeError("ONNX Runtime: invalid output shape")


class Gallery:
    def search(self, embedding, k=1, threshold=None):
        return [SimpleNamespace(identity_id="alice", name="Alice", score=0.99)]


def frames(n):
    image = np.full((480, 640, 3), 128, np.uint8)
    for i in range(n):
        yield Frame(image, "bgr8", now_ns(), i, "test://")


@pytest.fixture()
def gate():
    from biogate.firmware_bridge import GateClient, GateSimulator

    key = bytes(range(32))
    with GateSimulator(key) as sim, GateClient(sim.port, key, heartbeat_s=0.25) as client:
        yield sim, client


def test_crashing_model_never_opens_the_gate(gate):
    sim, client = gate
    embedder = CrashingEmbedder()
    errors = []
    sink = DecisionSink(DecisionPolicy(PolicyConfig(require_liveness=True, liveness_source="rgb")), client)
    chain = FaceChain(OneFace(), embedder)
    stages = [DetectStage(chain), LivenessStage(Live()), EmbedStage(chain), MatchStage(Gallery(), 0.5)]
    pipe = Pipeline(
        frames(30),
        stages,
        sink,
        queue_size=64,
        on_error=lambda w, e, item: errors.append(w),
        results=Findings,
    )
    with pipe:
        assert pipe.wait(30)
    assert embedder.calls == 30 and errors == ["embed"] * 30
    assert sink.records == []
    assert client.status().relay_open is False
    assert sim.sim_status()["relay_opens"] == 0


def test_same_pipeline_with_working_model_opens_once(gate):
    sim, client = gate

    class Embedder:
        def embed(self, image, faces, order="BGR"):
            return [SimpleNamespace(embedding=np.ones(128, np.float32) / np.sqrt(128))]

    opened = threading.Event()
    sink = DecisionSink(
        DecisionPolicy(PolicyConfig(open_cooldown_s=60, open_duration_ms=500, liveness_source="rgb")),
        client,
        on_decision=lambda record: opened.set(),
    )
    chain = FaceChain(OneFace(), Embedder())
    stages = [DetectStage(chain), LivenessStage(Live()), EmbedStage(chain), MatchStage(Gallery(), 0.5)]
    with Pipeline(frames(10), stages, sink, queue_size=64, results=Findings) as pipe:
        assert pipe.wait(30)
    assert opened.is_set()
    assert [r.decision.action for r in sink.records] == ["open"]  # the cooldown stops repeats
    assert sim.sim_status()["relay_opens"] == 1


def test_gate_failure_is_reported_not_swallowed(gate):
    sim, client = gate
    sim.kill()  # the controller dies: commands can no longer be confirmed
    errors = []
    sink = DecisionSink(DecisionPolicy(PolicyConfig(require_liveness=False)), client)

    class Embedder:
        def embed(self, image, faces, order="BGR"):
            return [SimpleNamespace(embedding=np.ones(128, np.float32))]

    chain = FaceChain(OneFace(), Embedder())
    stages = [DetectStage(chain), EmbedStage(chain), MatchStage(Gallery(), 0.5)]
    with Pipeline(
        frames(1),
        stages,
        sink,
        queue_size=4,
        on_error=lambda w, e, i: errors.append((w, e)),
        results=Findings,
    ) as pipe:
        assert pipe.wait(30)
    assert [w for w, _ in errors] == ["sink"]
    assert sink.records[0].gate_error is not None
