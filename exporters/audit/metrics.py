"""Audit metrics: the system's own matcher decides whether a reconstruction passes for its owner.

A *matcher* scores probe embeddings against stored templates exactly as the gallery does:

* :class:`PlainMatcher` — cosine of unit embeddings (the gallery without a transform);
* :class:`ProtectedMatcher` — the probe goes through the gallery's cancelable transform (with the
  system's key) and is compared with the stored protected template.

The success attack rate (ISO/IEC 30136's "success attack rate" for reconstruction attacks) is the
share of templates whose reconstruction, re-embedded by the system's encoder, is accepted at a
threshold: the system's operating threshold and the threshold at FMR 1e-3 measured on impostor
pairs of the same matcher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32)."""
    x = np.atleast_2d(np.asarray(x, np.float32))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class PlainMatcher:
    """Cosine of unit embeddings; ``templates`` are the stored plain templates."""

    name = "plain"

    def __init__(self, threshold: float) -> None:
        self.threshold = float(threshold)

    def protect(self, embeddings: np.ndarray) -> np.ndarray:
        """What the gallery stores for ``embeddings`` (here: the unit embeddings)."""
        return unit(embeddings)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """All scores between stored-form rows ``a`` and ``b`` (float64, so thresholds are stable)."""
        return unit(a).astype(np.float64) @ unit(b).astype(np.float64).T

    def score(self, probes: np.ndarray, stored: np.ndarray) -> np.ndarray:
        """Row-wise score of probe ``i`` against stored template ``i``."""
        p, s = self.protect(probes), np.atleast_2d(stored)
        return np.array([self.similarity(p[k : k + 1], s[k : k + 1])[0, 0] for k in range(len(p))])

    def score_matrix(self, probes: np.ndarray, stored: np.ndarray) -> np.ndarray:
        """All probe × stored scores."""
        return self.similarity(self.protect(probes), stored)


class ProtectedMatcher(PlainMatcher):
    """Scores after the gallery's :class:`~biogate.gallery.CancelableTransform` (system key)."""

    name = "cancelable"

    def __init__(
        self, transform, threshold: float | None = None, plain_threshold: float | None = None
    ) -> None:
        if threshold is None:
            if plain_threshold is None:
                raise ValueError("give threshold= or plain_threshold= (mapped through the transform)")
            threshold = transform.threshold(plain_threshold)
        super().__init__(threshold)
        self.transform = transform

    def protect(self, embeddings: np.ndarray) -> np.ndarray:
        return unit(self.transform.apply(unit(embeddings)))

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # Sign templates: agreement counts are integers, so the scores are exact whatever the BLAS
        # summation order (float cosines of ±1/√m vectors differ in the last bit between calls).
        sa, sb = np.sign(np.atleast_2d(a)).astype(np.float64), np.sign(np.atleast_2d(b)).astype(np.float64)
        return (sa @ sb.T) / sa.shape[1]


def impostor_scores(embeddings: np.ndarray, labels: np.ndarray, matcher: PlainMatcher) -> np.ndarray:
    """Scores of every pair of images of different identities (each unordered pair once)."""
    stored = matcher.protect(embeddings)
    s = matcher.similarity(stored, stored)
    i, j = np.triu_indices(len(stored), k=1)
    different = labels[i] != labels[j]
    return s[i[different], j[different]]


def genuine_scores(embeddings: np.ndarray, labels: np.ndarray, matcher: PlainMatcher) -> np.ndarray:
    """Scores of every pair of images of the same identity."""
    stored = matcher.protect(embeddings)
    s = matcher.similarity(stored, stored)
    i, j = np.triu_indices(len(stored), k=1)
    same = labels[i] == labels[j]
    return s[i[same], j[same]]


def threshold_at_fmr(impostors: np.ndarray, fmr: float = 1e-3) -> float:
    """Smallest threshold (accept ``score >= t``) whose false-match rate on ``impostors`` is ``<= fmr``."""
    s = np.sort(np.asarray(impostors, np.float64))[::-1]
    if len(s) == 0:
        raise ValueError("no impostor scores to calibrate a threshold on")
    k = int(np.floor(fmr * len(s)))  # at most k impostors may be accepted
    if k >= len(s):
        return float(s[-1])
    return float(np.nextafter(s[k], np.inf))


def wilson(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a rate over ``n`` trials (a few dozen templates give coarse rates)."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


@dataclass
class AttackResult:
    """One attack's outcome against one matcher."""

    method: str
    matcher: str
    n: int
    rate_operating: float
    rate_fmr: float
    mean_score: float
    mean_cosine: float | None
    threshold_operating: float
    threshold_fmr: float

    def row(self) -> dict:
        out = dict(self.__dict__)
        out["rate_operating_ci95"] = wilson(self.rate_operating, self.n)
        return out


def attack_result(
    method: str,
    matcher: PlainMatcher,
    probes: np.ndarray,
    stored: np.ndarray,
    fmr_threshold: float,
    originals: np.ndarray | None = None,
) -> AttackResult:
    """Success attack rates of re-embedded reconstructions ``probes`` against their own ``stored`` templates.

    ``originals`` (plain unit templates) add the mean plain cosine to the original.
    """
    scores = matcher.score(probes, stored)
    mean_cos = None if originals is None else float(np.mean(np.sum(unit(probes) * unit(originals), axis=1)))
    return AttackResult(
        method=method,
        matcher=matcher.name,
        n=len(scores),
        rate_operating=float(np.mean(scores >= matcher.threshold)),
        rate_fmr=float(np.mean(scores >= fmr_threshold)),
        mean_score=float(np.mean(scores)),
        mean_cosine=mean_cos,
        threshold_operating=matcher.threshold,
        threshold_fmr=fmr_threshold,
    )


def protected_threshold(transform, calib: tuple[np.ndarray, np.ndarray], plain_threshold: float) -> float:
    """Operating threshold of a cancelable gallery: the one with the plain system's false-match rate.

    :meth:`CancelableTransform.threshold` assumes the angles of the raw templates; after centring
    they are wider, so the operating point is calibrated on impostor pairs instead (same FMR as the
    plain system at ``plain_threshold`` on the calibration set).
    """
    emb, labels = calib
    plain_fmr = float(np.mean(impostor_scores(emb, labels, PlainMatcher(plain_threshold)) >= plain_threshold))
    return threshold_at_fmr(
        impostor_scores(emb, labels, ProtectedMatcher(transform, threshold=0.0)), plain_fmr
    )


def verification_accuracy(embeddings: np.ndarray, labels: np.ndarray, matcher: PlainMatcher) -> dict:
    """Genuine accept rate, impostor reject rate and their mean at the matcher's threshold."""
    gen = genuine_scores(embeddings, labels, matcher)
    imp = impostor_scores(embeddings, labels, matcher)
    gar = float(np.mean(gen >= matcher.threshold))
    irr = float(np.mean(imp < matcher.threshold))
    return {
        "genuine_accept_rate": gar,
        "impostor_reject_rate": irr,
        "balanced_accuracy": (gar + irr) / 2,
        "genuine_pairs": len(gen),
        "impostor_pairs": len(imp),
        "threshold": matcher.threshold,
    }


__all__ = [
    "AttackResult",
    "PlainMatcher",
    "ProtectedMatcher",
    "attack_result",
    "genuine_scores",
    "impostor_scores",
    "protected_threshold",
    "threshold_at_fmr",
    "unit",
    "verification_accuracy",
    "wilson",
]
