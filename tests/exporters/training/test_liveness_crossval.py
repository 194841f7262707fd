"""The identity-fold protocol of the full-resolution faces, the sharpness yardstick, cross-validation."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.exporters.pad.evaluate import build_protocol, sharpness_score
from biogate.exporters.pad.protocol import (
    PORTRAIT_ROUNDS,
    PORTRAIT_VAL_CAPTURES,
    identity_folds,
    portrait_faces,
    split_portraits,
)


def test_folds_are_identity_disjoint_and_test_every_identity_once() -> None:
    names, faces = portrait_faces()
    assert len(names) == len(faces) >= 9 and all(min(f.shape[:2]) >= 68 for f in faces)
    folds = 5
    tested: list[str] = []
    for k in range(folds):
        split = split_portraits(k, folds)
        ids = {part: set(v) for part, v in split.identities.items()}
        assert (
            not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
        )
        assert ids["train"] | ids["val"] | ids["test"] == set(names)
        assert ids["val"] == set(split_portraits((k + 1) % folds, folds).identities["test"])
        assert len(split.train) == len(split.identities["train"])  # images and names stay paired
        tested += sorted(ids["test"])
    assert sorted(tested) == sorted(set(names))
    if names.count("albert_einstein") == 2:  # both photographs of one person land on one side
        split = split_portraits(0, folds)
        assert sum(part.count("albert_einstein") for part in split.identities.values()) == 2
        assert any(part.count("albert_einstein") == 2 for part in split.identities.values())


def test_fold_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="identity folds"):
        identity_folds(["a", "b", "c"], folds=4)
    with pytest.raises(ConfigError, match="fold 5"):
        split_portraits(5, 5)
    assert identity_folds(["a", "b", "c", "d"], 3, seed=1) == identity_folds(["d", "c", "b", "a"], 3, seed=1)


def test_identity_folds_over_a_folder_of_people(tmp_path) -> None:
    rng = np.random.default_rng(0)
    for person in ("ann", "bob", "cy", "dee"):
        for i in range(2):
            (tmp_path / person / "session1").mkdir(parents=True, exist_ok=True)
            img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            cv2.imwrite(str(tmp_path / person / "session1" / f"{i}.png"), img)
    cv2.imwrite(str(tmp_path / "loner.jpg"), rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    names, faces = portrait_faces(f"folds:{tmp_path}")
    assert sorted(set(names)) == ["ann", "bob", "cy", "dee", "loner"] and len(faces) == 9
    split = split_portraits(0, 3, source=f"folds:{tmp_path}")
    parts = [set(split.identities[k]) for k in ("train", "val", "test")]
    assert set.union(*parts) == set(names) and sum(len(p) for p in parts) == 5  # disjoint
    assert len(split.train) + len(split.val) + len(split.test) == 9
    with pytest.raises(ConfigError, match="no identities"):
        portrait_faces("builtin")
    with pytest.raises(ConfigError, match="not a folder"):
        portrait_faces(f"folds:{tmp_path / 'missing'}")


def test_portraits_protocol_sizes() -> None:
    proto = build_protocol(32, source="portraits", fold=1, folds=5)
    n_val, n_test = len(proto.split.val), len(proto.split.test)
    assert proto.val.bona_fide.shape == (n_val * PORTRAIT_VAL_CAPTURES, 32, 32, 3)
    assert proto.test.bona_fide.shape[0] == n_test * 3 * PORTRAIT_ROUNDS
    assert all(v.shape[0] == n_test * PORTRAIT_ROUNDS for v in proto.test.attacks.values())
    rounds = proto.test.attacks["print_photo"].reshape(PORTRAIT_ROUNDS, n_test, -1)
    assert not np.array_equal(rounds[0], rounds[1])  # each round draws new attack parameters


def test_sharpness_yardstick_scores_blur_as_more_attack_like() -> None:
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    blurred = np.stack([cv2.GaussianBlur(img, (0, 0), 1.5) for img in sharp])
    assert np.all(sharpness_score(blurred) > sharpness_score(sharp))


def test_pool_judges_each_fold_at_its_own_threshold() -> None:
    from biogate.exporters.training.liveness_crossval import pool

    folds = [
        {
            "s": {
                "bona_fide_margin": [-1.0, 0.5],
                "attack_margin": {"a": [1.0], "b": [-0.5]},
                "eer": 0.2,
                "auc": 0.8,
            }
        },
        {
            "s": {
                "bona_fide_margin": [-2.0, -1.0],
                "attack_margin": {"a": [0.0], "b": [3.0]},
                "eer": 0.0,
                "auc": 1.0,
            }
        },
    ]
    r = pool(folds, "s")
    assert r["bpcer"] == 0.25  # one of four genuine captures above its fold's threshold
    assert r["apcer"] == {"a": 0.5, "b": 0.5}  # a margin of exactly 0 is accepted (bona fide)
    assert r["mean_fold_eer"] == pytest.approx(0.1) and r["mean_fold_auc"] == pytest.approx(0.9)


def test_crossval_end_to_end_on_tiny_runs(tmp_path) -> None:
    pytest.importorskip("torch")
    from biogate.exporters.training.liveness_crossval import main

    args = ["--out", str(tmp_path), "--folds", "3", "--jobs", "2", "--"]
    args += ["--epochs", "2", "--batch", "4", "--set", "identity=exemplar", "--set", "identity_steps=3"]
    assert main(args) == 0
    result = json.loads((tmp_path / "crossval.json").read_text())
    assert [f["fold"] for f in result["folds"]] == [0, 1, 2]
    tested = [i for f in result["folds"] for i in f["test_identities"]]
    assert len(tested) == len(set(tested)) == len(set(portrait_faces()[0]))
    for name in ("abs", "relative", "sharpness"):
        pooled = result["pooled"][name]
        assert 0.0 <= pooled["bpcer"] <= 1.0 and set(pooled["apcer"]) == set(
            result["folds"][0][name]["attack_margin"]
        )
    assert all((tmp_path / f"fold{k}" / "checkpoints" / "last.pt").is_file() for k in range(3))
