"""Parity check: the FP32 ONNX model must reproduce PyTorch on real samples.

Per output: max-abs error, that error relative to the output scale (max |reference|), and the
cosine similarity of the flattened outputs.  Export fails with :class:`ParityError` when the
relative error exceeds the model's ``parity_atol`` or the cosine falls below its floor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from biogate.errors import EngineError
from biogate.exporters.registry import InferFn

DEFAULT_MIN_COSINE = 0.9999


class ParityError(EngineError):
    """The exported graph does not reproduce the PyTorch model within the thresholds."""


@dataclass
class ParityReport:
    """Worst case over all samples and outputs."""

    max_abs: float
    max_rel: float
    min_cosine: float
    samples: int
    atol: float
    min_cosine_required: float

    @property
    def ok(self) -> bool:
        return self.max_rel <= self.atol and self.min_cosine >= self.min_cosine_required

    def to_json(self) -> dict[str, float]:
        return {
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "min_cosine": self.min_cosine,
            "samples": self.samples,
            "atol_rel": self.atol,
            "min_cosine_required": self.min_cosine_required,
        }


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(a @ b / (na * nb))


def compare(
    reference: InferFn,
    candidate: InferFn,
    samples: Iterable[dict[str, np.ndarray]],
    atol: float,
    min_cosine: float = DEFAULT_MIN_COSINE,
) -> ParityReport:
    """Run both on every sample (one at a time, then all stacked as one batch) and compare."""
    samples = list(samples)
    if not samples:
        raise ParityError("parity check got no samples")
    batches = list(samples)
    if len(samples) > 1:  # one stacked batch also exercises the dynamic batch axis
        batches.append({k: np.concatenate([s[k] for s in samples]) for k in samples[0]})
    worst_abs, worst_rel, worst_cos = 0.0, 0.0, 1.0
    for batch in batches:
        ref, got = reference(batch), candidate(batch)
        for name, r in ref.items():
            if name not in got:
                raise ParityError(f"parity: output {name!r} is missing from the exported graph")
            g = np.asarray(got[name])
            if g.shape != r.shape:
                raise ParityError(f"parity: output {name!r} has shape {g.shape}, PyTorch gives {r.shape}")
            err = float(np.max(np.abs(g.astype(np.float64) - r))) if r.size else 0.0
            scale = max(float(np.max(np.abs(r))) if r.size else 0.0, 1e-12)
            worst_abs = max(worst_abs, err)
            worst_rel = max(worst_rel, err / scale)
            worst_cos = min(worst_cos, _cosine(g, r))
    return ParityReport(worst_abs, worst_rel, worst_cos, len(samples), atol, min_cosine)


def check(report: ParityReport, what: str) -> ParityReport:
    """Raise :class:`ParityError` naming ``what`` unless ``report`` is within thresholds."""
    if not report.ok:
        raise ParityError(
            f"{what}: parity check failed: max-abs {report.max_abs:.3g} "
            f"(relative {report.max_rel:.3g} > {report.atol:.3g}) or cosine {report.min_cosine:.6f} "
            f"< {report.min_cosine_required}"
        )
    return report
