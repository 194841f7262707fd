"""The hard-example loop: labels, disagreements, the no-regression gate, the bundle swap, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.models.palm import log_attenuation
from biogate.models.palm_log import DecisionLog, hard_examples, read_labels
from biogate.sim import xray as X

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from biogate.exporters.training import palm_feedback as fb  # noqa: E402
from biogate.exporters.training import train_palm  # noqa: E402


def test_gate_refuses_each_kind_of_regression():
    old = {"ref_acer": 0.02, "ref_bpcer": 0.01, "field_error": 0.2}
    assert fb.gate(old, dict(old)) == ""
    assert fb.gate(old, {**old, "ref_acer": 0.024}) == ""  # inside the ACER tolerance
    assert "ACER" in fb.gate(old, {**old, "ref_acer": 0.03})
    assert "BPCER" in fb.gate(old, {**old, "ref_bpcer": 0.03})
    assert "field" in fb.gate(old, {**old, "field_error": 0.25})


def test_labels_csv_json_and_hard_examples(tmp_path):
    log = DecisionLog(tmp_path / "log")
    raw = X.simulate("live", 30, 0).lr
    ids = [log.record(raw, None, s, s > 0.5, 0.5) for s in (0.9, 0.2, 0.8)]
    (tmp_path / "l.csv").write_text(f"id,label\n{ids[0]},live\n{ids[1]},live\n{ids[2]},fake\n")
    (tmp_path / "l.json").write_text(json.dumps({ids[0]: 1, ids[1]: "live", ids[2]: 0}))
    assert read_labels(tmp_path / "l.csv") == read_labels(tmp_path / "l.json")
    hard = hard_examples(tmp_path / "log", read_labels(tmp_path / "l.csv"))
    assert sorted(d.entry["id"] for d in hard) == sorted(ids[1:])
    (tmp_path / "bad.csv").write_text(f"id,label\n{ids[0]},maybe\n")
    with pytest.raises(ConfigError, match="maybe"):
        read_labels(tmp_path / "bad.csv")
    (tmp_path / "other.csv").write_text("id,label\nnot-in-log,live\n")
    with pytest.raises(ConfigError, match="not in the log"):
        hard_examples(tmp_path / "log", read_labels(tmp_path / "other.csv"))


def _small(counts: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(counts, (32, 32), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    """A raw-input liveness net that tells live from rubber, its checkpoint and a bundle folder."""
    root = tmp_path_factory.mktemp("fb")
    # 32x32 device images (the classifier is size-agnostic) keep this fixture fast.
    live = [_small(X.simulate("live", 31, i).lr) for i in range(10)]
    rubber = [_small(X.simulate("rubber", 31, i).lr) for i in range(10)]
    x = np.stack([log_attenuation(r) for r in live + rubber])
    y = np.array([1] * 10 + [0] * 10)
    kinds = np.array(["live"] * 10 + ["rubber"] * 10)
    net = train_palm.train_liveness(x, y, iters=80, batch=10, lr=2e-3, log_every=0)
    ck = train_palm.save_checkpoint(net, root / "old.pt", net={}, seen_kinds=["rubber"])
    bundle = root / "palm_liveness_raw"
    bundle.mkdir()
    manifest = {
        "name": "palm_liveness_raw",
        "task": "liveness",
        "seed": "001",
        "version": "1",
        "inputs": [{"name": "image", "shape": [-1, 1, 32, 32]}],
        "thresholds": {"live": 0.5},
    }
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    (bundle / "model.onnx").write_bytes(b"old model bytes")
    ref = fb.Reference(x, y, kinds, ("rubber",))
    return dict(root=root, live=live, ck=ck, bundle=bundle, ref=ref, replay=(x, y), net=net)


def _field_log(tmp_path, world, label_word):
    log = DecisionLog(tmp_path / "log")
    scores = train_palm.liveness_scores(world["net"], np.stack([log_attenuation(r) for r in world["live"]]))
    ids = [log.record(r, None, s, s > 0.5, 0.5) for r, s in zip(world["live"], scores)]
    (tmp_path / "labels.csv").write_text("id,label\n" + "".join(f"{i},{label_word}\n" for i in ids))
    return tmp_path / "log", tmp_path / "labels.csv"


def test_feedback_refuses_a_regressing_candidate_and_keeps_the_bundle(tmp_path, tiny_world):
    w = tiny_world
    base = fb.judge(w["net"], w["ref"], None, None)
    assert base["ref_bpcer"] == 0.0 and base["ref_acer"] <= 0.1  # the old model works
    # An operator marked every live palm as fake: learning that would reject real users.
    log_dir, labels = _field_log(tmp_path, w, "fake")
    before = {p.name: p.read_bytes() for p in w["bundle"].iterdir()}
    report = fb.feedback(
        log_dir,
        labels,
        w["bundle"],
        weights=w["ck"],
        iters=40,
        holdout=0.0,
        reference=w["ref"],
        replay=w["replay"],
    )
    assert not report.accepted and report.reason.startswith("refused")
    assert report.hard == 10 and report.new["ref_bpcer"] > report.old["ref_bpcer"] + 0.01
    assert {p.name: p.read_bytes() for p in w["bundle"].iterdir()} == before
    assert not w["bundle"].with_name(w["bundle"].name + ".prev").exists()


def test_feedback_swaps_in_a_passing_candidate(tmp_path, tiny_world):
    w = tiny_world
    bundle = tmp_path / "palm_liveness_raw"
    bundle.mkdir()
    for p in w["bundle"].iterdir():
        (bundle / p.name).write_bytes(p.read_bytes())
    log_dir, labels = _field_log(tmp_path, w, "fake")

    def export_stub(spec, out_dir):  # stands in for biogate.exporters.export (tested by its owner)
        target = out_dir / spec.name
        target.mkdir(parents=True)
        (target / "manifest.json").write_text(json.dumps({"name": spec.name, "version": spec.version}))
        return type("B", (), {"root": target})()

    report = fb.feedback(
        log_dir,
        labels,
        bundle,
        weights=w["ck"],
        iters=5,
        holdout=0.0,
        acer_tolerance=1.0,
        bpcer_tolerance=1.0,
        reference=w["ref"],
        replay=w["replay"],
        export_fn=export_stub,
    )
    assert report.accepted
    assert json.loads((bundle / "manifest.json").read_text())["version"].startswith("1+fb")
    assert (bundle / fb.CHECKPOINT).is_file()
    assert (tmp_path / "palm_liveness_raw.prev" / "model.onnx").read_bytes() == b"old model bytes"


def test_feedback_refuses_an_exported_bundle_with_a_worse_metric(tmp_path, tiny_world):
    w = tiny_world
    bundle = tmp_path / "palm_liveness_raw"
    bundle.mkdir()
    manifest = json.loads((w["bundle"] / "manifest.json").read_text())
    manifest["metrics"] = {"fp32": {"metric": 0.0}}  # the current bundle's ACER on the test split
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    (bundle / "model.onnx").write_bytes(b"old model bytes")
    log_dir, labels = _field_log(tmp_path, w, "fake")

    def export_worse(spec, out_dir):
        target = out_dir / spec.name
        target.mkdir(parents=True)
        (target / "manifest.json").write_text(json.dumps({"metrics": {"fp32": {"metric": 0.9}}}))
        return type("B", (), {"root": target})()

    report = fb.feedback(
        log_dir,
        labels,
        bundle,
        weights=w["ck"],
        iters=5,
        holdout=0.0,
        acer_tolerance=0.5,
        bpcer_tolerance=1.0,
        reference=w["ref"],
        replay=w["replay"],
        export_fn=export_worse,
    )
    assert not report.accepted and "worse than the current bundle" in report.reason
    assert (bundle / "model.onnx").read_bytes() == b"old model bytes"
    assert not (tmp_path / ".palm_liveness_raw.candidate").exists()


def test_cli_feedback_without_torch_says_which_extra(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from biogate.cli.main import main\n"
        f"args = ['palm', 'feedback', '--log', {str(tmp_path)!r}, '--labels', 'x.csv', '--bundle', 'b']\n"
        "sys.exit(main(args))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "torch" in proc.stderr and "biogate[train]" in proc.stderr and "Traceback" not in proc.stderr
