"""Every trainable model trains through ``biogate train`` on a small layout and ends in a verified bundle.

Tiny layouts written here (real LFW-subset face crops, simulated palm scans and thermal frames),
two optimiser steps each: this checks the plumbing end to end (data → identity split → training
→ held-out evaluation next to the shipped model → export → manifest ``training`` section), not
what a real run reaches (docs/training.md has those figures).
"""

from __future__ import annotations

import json
import math

import pytest

from biogate.bundle import open_bundle
from biogate.cli.main import main
from tests.exporters.training import tiny_layouts as T

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow

#: model -> (layout kind, the layout fixture's name, extra arguments)
CASES: dict[str, tuple[str, str, list[str]]] = {
    "palm_sr": ("palm-dicom", "palm", ["--batch", "4", "--set", "patch=16"]),
    "palm_liveness": ("palm-dicom", "palm", ["--batch", "4"]),
    "palm_liveness_raw": ("palm-dicom", "palm", ["--batch", "4"]),
    "face_liveness": (
        "pad-folders",
        "pad",
        ["--batch", "4", "--set", "identity=exemplar", "--set", "identity_steps=2"],
    ),
    "face_sr": ("folders", "folders", ["--batch", "4", "--set", "lr_size=16"]),
    "face_sr_rdn": ("folders", "folders", ["--batch", "4", "--set", "lr_size=16", "--set", "max_rounds=1"]),
    "face_refine": ("folders", "folders", ["--batch", "2"]),
    "face_embed_dlib": ("folders", "folders", ["--batch", "4"]),
    "face_inversion_dlib128": ("folders", "folders", ["--batch", "4", "--set", "width=0.125"]),
    "face_detect_yolo": (
        "widerface",
        "widerface",
        ["--batch", "2", "--set", "canvas=64", "--set", "width=4", "--set", "eval_size=96"],
    ),
    "face_detect_any": (
        "widerface",
        "widerface",
        ["--batch", "4", "--set", "width=4", "--set", "eval_min_face=12", "--set", "rotations=2"],
    ),
    "thermal_face": ("thermal", "thermal", ["--batch", "2", "--set", "gallery=2"]),
}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    torch.set_num_threads(1)
    return {
        "palm": T.write_palm(root / "palm", subjects=6, lr=32),
        "pad": T.write_pad_folders(root / "pad", identities=6),
        "folders": T.write_folders(root / "folders", identities=6, per=2),
        "lfw": T.write_lfw_pairs(root / "lfw"),
        "widerface": T.write_widerface(root / "widerface", train=6, val=3),
        "thermal": T.write_thermal(root / "thermal", people=4, captures=3),
    }


def test_every_registered_trainer_is_covered():
    from biogate.exporters.training.trainers import all_trainers

    assert {s.name for s in all_trainers()} <= set(CASES), "add a tiny-layout case for the new trainer"


def _train(model: str, spec: str, out, extra: list[str]) -> int:
    args = ["train", model, "--data", spec, "--out", str(out), "--steps", "2", "--folds", "3"]
    return main([*args, "--no-latency", "--no-progress", "--threads", "1", "--log-every", "1", *extra])


@pytest.mark.parametrize("model", sorted(CASES))
def test_trains_exports_and_records(model, layouts, tmp_path):
    from biogate.exporters.data.layouts import parse
    from biogate.exporters.training.trainers import get

    kind, fixture, extra = CASES[model]
    spec = f"{kind}:{layouts[fixture]}"
    if model == "face_embed_dlib":  # verification (LFW protocol) and identification reports too
        extra = [*extra, "--eval", f"lfw-pairs:{layouts['lfw']}", "--eval", spec]
    if model == "face_liveness":  # ISO/IEC 30107-3 figures per species on a held-out PAD set
        extra = [*extra, "--eval", spec]
    assert _train(model, spec, tmp_path, extra) == 0
    bundle = open_bundle(tmp_path / "bundle")  # hashes (and signature) verified by the device-side reader
    manifest = bundle.manifest
    assert manifest["name"] == get(model).bundle
    t = manifest["training"]
    data = parse(spec)
    assert t["data"] == {**data.summary(), "spec": spec} and t["data"]["files_sha256"] == data.digest()
    assert t["split"]["by"] == "identity" and t["split"]["test"]["identities"] >= 1
    assert t["world_size"] == 1 and t["seed"] == 0 and t["steps"] >= 2
    assert math.isfinite(t["held_out"]["metric"]) and "metric" in t["shipped_held_out"]
    assert manifest["metrics"]["fp32"]["metric"] == pytest.approx(t["held_out"]["metric"], rel=1e-3, abs=1e-3)
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["history"] and report["held_out"] == t["held_out"]
    assert (tmp_path / "curves.png").stat().st_size > 0
    if model == "face_embed_dlib":
        lfw = t["extra_evaluations"][f"lfw-pairs:{layouts['lfw']}"]["this_run"]
        assert 0.0 <= lfw["accuracy"] <= 1.0 and lfw["folds"] == 2.0
        assert (tmp_path / "roc_lfw-pairs.png").is_file()
    if model == "face_liveness":
        pad = t["extra_evaluations"][spec]["this_run"]
        assert {"apcer_print", "apcer_replay", "bpcer", "acer"} <= set(pad)
        assert (tmp_path / "det_pad-folders.png").is_file()
    if model == "face_sr":  # the acceptance test ran after round 1 and decided about round 2
        assert "round1: validation PSNR gain" in (tmp_path / "train.log").read_text()
    if model == "palm_liveness":  # `biogate palm feedback` can fine-tune the bundle later
        from biogate.exporters.training.train_palm import load_liveness

        assert load_liveness(tmp_path / "bundle" / "train" / "checkpoint.pt") is not None
