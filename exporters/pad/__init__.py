"""Presentation-attack detection (PAD) evaluation for seed 004 — never used to train the positive-only model.

* :mod:`.attacks` — simulated print, screen-replay and cut/partial attacks made from genuine faces.
* :mod:`.metrics` — ISO/IEC 30107-3 metrics (APCER per attack type, BPCER, ACER, BPCER@APCER),
  threshold calibration on genuine scores, DET curve points.
* :mod:`.det_plot` — DET curve PNG (OpenCV only).
* :mod:`.baseline` — a small supervised CNN trained on some attack types, evaluated on held-out ones.
* :mod:`.evaluate` — the protocol that ties them together for the benchmark and the registry.
"""

from .attacks import ATTACKS, Attack, apply_attack, attack_names
from .metrics import PadReport, calibrate_threshold, pad_report

__all__ = [
    "ATTACKS",
    "Attack",
    "PadReport",
    "apply_attack",
    "attack_names",
    "calibrate_threshold",
    "pad_report",
]
