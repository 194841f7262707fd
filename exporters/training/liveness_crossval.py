"""Cross-validate the seed-004 liveness recipe over identity folds of every full-resolution face.

One trained model has only ~3 held-out identities to be tested on, too few to say anything (a
95 % interval on 3 trials spans ±0.45). This trains one model per fold of
:func:`biogate.exporters.pad.protocol.split_portraits` (fold ``k`` tests on identity group ``k``,
calibrates its threshold on group ``k + 1``, trains on the rest), so every identity is tested
exactly once by a model that never saw it, then pools the decisions::

    python -m biogate.exporters.training.liveness_crossval --out runs/lv_cv --jobs 2 -- \\
        --steps 2000 --lr 5e-4 --batch 8 --set augment=heavy --set delta_norm=relative \\
        --set d_lr_scale=0.2 --set identity_batch=4

Each fold is one ``biogate train face_liveness --fold k --no-export`` run in ``OUT/fold<k>/``;
arguments after ``--`` go to it unchanged. Finished folds are reused (``--retrain`` trains again).
Every score is calibrated positive-only on its fold's genuine validation captures (target BPCER
5 %); no attack ever sets a threshold.

Scores reported per fold and pooled: the seed's Δ (``abs``), the relative Δ (``relative``) and,
as a yardstick that learns nothing, the negative variance of the Laplacian of the grey input
(``sharpness``: "this capture is blurrier than genuine captures"), calibrated the same way.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from biogate.exporters.pad.evaluate import build_protocol, score_protocol, sharpness_score
from biogate.exporters.pad.metrics import pad_report
from biogate.exporters.pad.protocol import is_identity_source

ScoreFn = Callable[[np.ndarray], np.ndarray]
TARGET_BPCER = 0.05


def _delta_scorers(run: Path) -> dict[str, ScoreFn]:
    import torch

    from biogate.exporters.nets.liveness import LivenessDelta
    from biogate.exporters.training.tasks.face_liveness import load_generator
    from biogate.exporters.training.train_liveness import delta_scores

    gen = load_generator(run)
    scorers: dict[str, ScoreFn] = {}
    for norm in ("none", "relative"):
        g = type(gen)(replace(gen.cfg, delta_norm=norm))
        g.load_state_dict(gen.state_dict())
        model = LivenessDelta(g).eval()
        scorers["abs" if norm == "none" else norm] = lambda x, m=model: delta_scores(m, x)
    torch.set_num_threads(1)
    return scorers


def _auc(bona: np.ndarray, attacks: np.ndarray) -> float:
    """P(attack score > genuine score), ties counting half: 0.5 is chance."""
    greater = (attacks[:, None] > bona[None, :]).mean()
    ties = (attacks[:, None] == bona[None, :]).mean()
    return float(greater + 0.5 * ties)


def evaluate_fold(
    fold: int, folds: int, seed: int, size: int, scorers: dict[str, ScoreFn], source: str = "portraits"
) -> dict:
    """Every scorer on fold ``fold``'s protocol, each at its own genuine-validation threshold."""
    protocol = build_protocol(size, source=source, split_seed=seed, fold=fold, folds=folds)
    out: dict = {"fold": fold, "test_identities": sorted(set(protocol.split.identities["test"]))}
    for name, score in scorers.items():
        run = score_protocol(protocol, score, target_bpcer=TARGET_BPCER)
        pooled = np.concatenate(list(run.attacks.values()))
        out[name] = {
            "threshold": run.report.threshold,
            "bona_fide_margin": (run.bona_fide - run.report.threshold).tolist(),
            "attack_margin": {k: (v - run.report.threshold).tolist() for k, v in run.attacks.items()},
            "eer": run.report.eer,
            "auc": _auc(run.bona_fide, pooled),
        }
    return out


def pool(fold_results: Sequence[dict], scorer: str) -> dict:
    """Decisions pooled over folds: each score minus its fold's threshold, judged against 0."""
    bona = np.concatenate([np.asarray(r[scorer]["bona_fide_margin"]) for r in fold_results])
    species = fold_results[0][scorer]["attack_margin"].keys()
    attacks = {
        k: np.concatenate([np.asarray(r[scorer]["attack_margin"][k]) for r in fold_results]) for k in species
    }
    report = pad_report(bona, attacks, 0.0)
    return {
        "acer": report.acer,
        "apcer_worst": report.apcer_worst,
        "worst_type": report.worst_type,
        "bpcer": report.bpcer,
        "apcer": report.apcer,
        "mean_fold_eer": float(np.mean([r[scorer]["eer"] for r in fold_results])),
        "mean_fold_auc": float(np.mean([r[scorer]["auc"] for r in fold_results])),
        "n_bona_fide": int(bona.size),
        "n_attacks_per_type": int(next(iter(attacks.values())).size),
    }


def _train_folds(
    data: str, folds: int, out: Path, jobs: int, train_args: list[str], retrain: bool
) -> list[Path]:
    runs = [out / f"fold{k}" for k in range(folds)]
    todo = [k for k in range(folds) if retrain or not (runs[k] / "metrics.json").is_file()]
    running: list[tuple[int, subprocess.Popen]] = []
    for k in todo:
        while len(running) >= jobs:
            _wait_one(running)
        if retrain:
            shutil.rmtree(runs[k], ignore_errors=True)
        cmd = [sys.executable, "-m", "biogate.exporters.training", "face_liveness", "--data", data]
        cmd += ["--fold", str(k), "--folds", str(folds), *train_args, "--out", str(runs[k])]
        cmd += ["--no-export", "--no-progress", "--threads", "1"]
        log = (out / f"fold{k}.log").open("w")
        print(f"fold {k}: {' '.join(cmd[2:])}", flush=True)
        running.append((k, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)))
    while running:
        _wait_one(running)
    return runs


def _wait_one(running: list[tuple[int, subprocess.Popen]]) -> None:
    k, proc = running.pop(0)
    if proc.wait() != 0:
        raise RuntimeError(f"training fold {k} failed (exit {proc.returncode}); see its fold{k}.log")
    print(f"fold {k}: trained", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    train_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for fold checkpoints, logs and results")
    p.add_argument(
        "--data", default="portraits", help="'portraits' or 'folders:<folder>' (one sub-folder per person)"
    )
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=4, help="identity shuffle of the folds")
    p.add_argument("--jobs", type=int, default=1, help="folds trained at once (one CPU thread each)")
    p.add_argument("--retrain", action="store_true", help="train folds even if their checkpoint exists")
    args = p.parse_args(own)
    args.out.mkdir(parents=True, exist_ok=True)
    train_args = [*train_args, "--seed", str(args.seed)]
    source = args.data.replace("folders:", "folds:", 1)  # the liveness protocol's name of the same folder
    if not is_identity_source(source):
        p.error(
            f"--data {args.data!r}: cross-validation needs identities ('portraits' or 'folders:<folder>')"
        )
    ckpts = _train_folds(args.data, args.folds, args.out, max(1, args.jobs), train_args, args.retrain)

    from biogate.exporters.training.tasks.face_liveness import load_generator

    results = []
    for k, ckpt in enumerate(ckpts):
        size = load_generator(ckpt).cfg.input_size
        scorers = {**_delta_scorers(ckpt), "sharpness": sharpness_score}
        results.append(evaluate_fold(k, args.folds, args.seed, size, scorers, source))
    pooled = {name: pool(results, name) for name in ("abs", "relative", "sharpness")}
    (args.out / "crossval.json").write_text(
        json.dumps({"train_args": train_args, "folds": results, "pooled": pooled}, indent=1)
    )
    print("| score | ACER | worst APCER | BPCER | mean fold EER | mean fold AUC | APCER per species |")
    print("|---|---|---|---|---|---|---|")
    for name, r in pooled.items():
        per = ", ".join(f"{k} {v:.2f}" for k, v in r["apcer"].items())
        print(
            f"| {name} | {r['acer']:.3f} | {r['apcer_worst']:.2f} ({r['worst_type']}) | {r['bpcer']:.3f} "
            f"| {r['mean_fold_eer']:.3f} | {r['mean_fold_auc']:.3f} | {per} |"
        )
    print(f"wrote {args.out / 'crossval.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
