"""Face recognition accuracy of embeddings: verification (TAR at FAR, ROC, LFW 10-fold), 1:N identification.

Scores are cosine similarities of L2-normalised embeddings (higher = more alike). FAR is the share
of impostor (different-person) pairs accepted, TAR the share of genuine (same-person) pairs
accepted, at the same threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FARS = (1e-4, 1e-3, 1e-2, 1e-1)


def roc(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(far, tar, threshold)`` at every distinct score, thresholds descending (accept ``score >= t``)."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], same[order].astype(bool)
    tp, fp = np.cumsum(y), np.cumsum(~y)
    last = np.r_[np.diff(s) != 0, True]  # the last index of each run of equal scores
    n_pos, n_neg = max(1, int(y.sum())), max(1, int((~y).sum()))
    return fp[last] / n_neg, tp[last] / n_pos, s[last]


def threshold_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """The lowest threshold whose FAR on these impostor pairs is ≤ ``far`` (accept ``score >= t``)."""
    impostors = np.sort(scores[~same.astype(bool)])[::-1]
    if not len(impostors):
        return float(np.min(scores))
    k = int(np.floor(far * len(impostors) + 1e-9))  # at most k impostors may pass
    return float(np.nextafter(impostors[k], np.inf)) if k < len(impostors) else float(impostors[-1])


def verification(scores: np.ndarray, same: np.ndarray, fars: Sequence[float] = FARS) -> dict[str, float]:
    """TAR at each FAR the impostor count can resolve, EER and pair counts."""
    far, tar, _ = roc(scores, same)
    n_neg = int((~same.astype(bool)).sum())
    out: dict[str, float] = {}
    for f in fars:
        if n_neg and f * n_neg >= 1:
            ok = far <= f + 1e-12
            out[f"tar_at_far_{f:g}"] = float(tar[ok].max()) if ok.any() else 0.0
    i = int(np.argmin(np.abs((1 - tar) - far)))
    out["eer"] = float(((1 - tar[i]) + far[i]) / 2)
    out["genuine_pairs"], out["impostor_pairs"] = float(same.sum()), float(n_neg)
    return out


def all_pairs(
    identities: Sequence[str], limit: int = 200_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` of every image pair (at most ``limit``, sampled with ``seed``)."""
    n = len(identities)
    i, j = np.triu_indices(n, k=1)
    if len(i) > limit:
        pick = np.sort(np.random.default_rng(seed).choice(len(i), limit, replace=False))
        i, j = i[pick], j[pick]
    return i, j


def identification(emb: np.ndarray, identities: Sequence[str]) -> dict[str, float]:
    """1:N top-1 / top-5: each identity enrolled with its first image, its other images are probes."""
    ids = np.asarray(identities)
    people, first = np.unique(ids, return_index=True)
    probes = np.setdiff1d(np.arange(len(ids)), first)
    if not len(probes):
        return {"top1": float("nan"), "top5": float("nan"), "probes": 0.0, "gallery": float(len(people))}
    sims = emb[probes] @ emb[first].T
    rank = (sims > sims[np.arange(len(probes)), np.searchsorted(people, ids[probes])][:, None]).sum(1)
    return {
        "top1": float((rank == 0).mean()),
        "top5": float((rank < 5).mean()),
        "probes": float(len(probes)),
        "gallery": float(len(people)),
    }


def lfw_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> dict[str, float]:
    """LFW's protocol: per fold, the best-accuracy threshold of the other folds applied to it."""
    accs = []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        if not train.any():  # a single fold (View 1): the threshold is fit on the pairs themselves
            train = test
        cands = np.unique(scores[train])
        best = max(cands, key=lambda t: ((scores[train] >= t) == same[train]).mean())
        accs.append(((scores[test] >= best) == same[test]).mean())
    return {"accuracy": float(np.mean(accs)), "accuracy_std": float(np.std(accs)), "folds": float(len(accs))}
