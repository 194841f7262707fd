"""The seed-004 evaluation: genuine test faces and attacks made from them, scored by any Δ function.

Used by ``benchmarks/bench_liveness.py`` and by the registry's ``evaluate`` (FP32 vs INT8 gate).
A score function takes RGB ``uint8`` presentations (N×S×S×3) and returns N scores, higher meaning
"more likely an attack".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .metrics import PadReport, calibrate_threshold, pad_report
from .protocol import (
    PORTRAIT_ROUNDS,
    PORTRAIT_VAL_CAPTURES,
    EvaluationSet,
    Split,
    evaluation_set,
    is_identity_source,
    load_genuine_faces,
    split_faces,
    split_portraits,
)

ScoreFn = Callable[[np.ndarray], np.ndarray]

#: Seed of the fixed protocol's face split (validation captures use +100, test presentations +200).
SPLIT_SEED = 4


@dataclass
class Protocol:
    """The fixed data of one evaluation (built once, scored by several models)."""

    split: Split
    val: EvaluationSet
    test: EvaluationSet


def build_protocol(
    size: int,
    source: str = "builtin",
    captures: int = 3,
    attacks: Sequence[str] | None = None,
    split_seed: int = SPLIT_SEED,
    fold: int = 0,
    folds: int = 5,
) -> Protocol:
    """Validation genuine captures (threshold calibration) and the test presentations, at ``size``.

    With the training run's ``source`` and ``seed`` as ``split_seed``, the split and the validation
    captures are the ones :func:`biogate.exporters.training.train_liveness.train` calibrated its threshold on
    (validation seed = split seed + 100).

    ``source="portraits"`` (or ``"folds:<folder>"``) is the identity-disjoint split of the
    full-resolution faces (:func:`~.protocol.split_portraits`, fold ``fold`` of ``folds``). It
    has few faces, so each validation face gets ``PORTRAIT_VAL_CAPTURES`` captures, and the test set is
    ``PORTRAIT_ROUNDS`` rounds of ``captures`` genuine captures and one presentation per species per
    face (other seeds each round: other camera noise and attack parameters).
    """
    if is_identity_source(source):
        split = split_portraits(fold, folds, seed=split_seed, source=source)
        val_captures, rounds = PORTRAIT_VAL_CAPTURES, PORTRAIT_ROUNDS
    else:
        split = split_faces(load_genuine_faces(source), seed=split_seed)
        val_captures, rounds = captures, 1
    return protocol_of(split, size, split_seed, val_captures, rounds, captures, attacks)


def protocol_of(
    split: Split,
    size: int,
    split_seed: int = SPLIT_SEED,
    val_captures: int = PORTRAIT_VAL_CAPTURES,
    rounds: int = PORTRAIT_ROUNDS,
    captures: int = 3,
    attacks: Sequence[str] | None = None,
) -> Protocol:
    """The protocol of any genuine-face split: ``val_captures`` genuine validation captures per face
    (seed ``split_seed + 100``) and ``rounds`` rounds of test presentations (seeds ``+ 200 + 1000·r``)
    of the test faces, each ``captures`` genuine captures and one presentation per attack species."""
    val = evaluation_set(split.val, size, seed=split_seed + 100, captures=val_captures, attacks=[])
    parts = [
        evaluation_set(split.test, size, seed=split_seed + 200 + 1000 * r, captures=captures, attacks=attacks)
        for r in range(rounds)
    ]
    test = EvaluationSet(
        np.concatenate([p.bona_fide for p in parts]),
        {k: np.concatenate([p.attacks[k] for p in parts]) for k in parts[0].attacks},
    )
    return Protocol(split, val, test)


def sharpness_score(images: np.ndarray) -> np.ndarray:
    """A yardstick that learns nothing: −var(Laplacian) of each grey presentation (higher = blurrier).

    Calibrated like Δ, on genuine validation captures only, it says "this capture is blurrier than
    genuine captures are". It shows how much of an attack species' signal is plain loss of
    sharpness at the model's input size.
    """
    out = []
    for img in images:
        grey = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY).astype(np.float64)
        out.append(-cv2.Laplacian(grey, cv2.CV_64F).var())
    return np.asarray(out, dtype=np.float64)


@dataclass
class ScoredRun:
    """Scores of one model on a protocol and the report at its calibrated threshold."""

    val_bona_fide: np.ndarray
    bona_fide: np.ndarray
    attacks: dict[str, np.ndarray]
    report: PadReport


def score_protocol(
    protocol: Protocol,
    score: ScoreFn,
    target_bpcer: float = 0.05,
    threshold: float | None = None,
    attacks: Sequence[str] | None = None,
) -> ScoredRun:
    """Score every presentation; calibrate the threshold on validation genuine captures unless given."""
    val = np.asarray(score(protocol.val.bona_fide), dtype=np.float64)
    bona = np.asarray(score(protocol.test.bona_fide), dtype=np.float64)
    names = list(attacks) if attacks is not None else list(protocol.test.attacks)
    att = {k: np.asarray(score(protocol.test.attacks[k]), dtype=np.float64) for k in names}
    tau = calibrate_threshold(val, target_bpcer) if threshold is None else float(threshold)
    return ScoredRun(val, bona, att, pad_report(bona, att, tau))
