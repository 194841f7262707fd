"""``palm_liveness`` / ``palm_liveness_raw``: seed 001 live-vs-fake palm radiograph classifiers.

``palm_liveness`` runs on the super-resolved second image (input ``image`` ``(N, 1, 128, 128)``),
``palm_liveness_raw`` on the raw low-resolution first image (``(N, 1, 64, 64)``, seed claim 7).
Output ``prob`` ``(N, 2)`` = ``[p_fake, p_live]``; the SDK declares a palm live when
``p_live > thresholds["live"]`` (0.5).  Gated on ACER (lower is better) over the fake kinds seen
in training, on held-out subjects (split ``test``, seed 303).  torch is imported only when used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, register

THRESHOLD = 0.5
NORMALIZATION = {"kind": "log_attenuation", "i0": "p99.5 of the image", "a_max": 4.0, "clip": [0.0, 1.0]}


@lru_cache(maxsize=4)
def images(split: str, use_sr: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, kinds) of a split as the model sees them (SR'd with the shipped SR, or raw)."""
    from biogate.exporters.training.train_palm import load_split, load_sr, sr_apply

    data = load_split(split)
    x = sr_apply(load_sr(), data.lr) if use_sr else data.lr
    return x, data.labels, data.kinds


def seen_kinds(weights: Path | None = None) -> tuple[str, ...]:
    from biogate.exporters.training.train_palm import WEIGHTS, checkpoint_meta

    return tuple(checkpoint_meta(weights or WEIGHTS / "palm_liveness.pt")["seen_kinds"])


def scores_of(infer: InferFn, x: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate(
        [infer({"image": x[i : i + batch][:, None]})["prob"][:, 1] for i in range(0, len(x), batch)]
    )


def make_evaluate(use_sr: bool, split: str = "test") -> Callable[[InferFn], dict[str, float]]:
    def evaluate(infer: InferFn) -> dict[str, float]:
        """ACER (the metric) = (worst APCER over the seen fake kinds + BPCER) / 2, plus per-kind APCER."""
        x, labels, kinds = images(split, use_sr)
        return liveness_metrics(scores_of(infer, x), labels, kinds, THRESHOLD, seen_kinds())

    return evaluate


def liveness_metrics(
    scores: np.ndarray, labels: np.ndarray, kinds: np.ndarray, threshold: float, seen: tuple[str, ...]
) -> dict[str, float]:
    """ACER over the ``seen`` fake kinds (``metric``), BPCER, every kind's APCER, and ``apcer_worst``.

    ``apcer_worst`` (the fitness contract's) is the worst over *every* fake kind, the held-out
    ``resin_bones`` included: an attacker is free to bring the kind training never saw.
    """
    from biogate.exporters.training.train_palm import pad_metrics

    m = pad_metrics(scores, labels, kinds, threshold, attack_kinds=seen)
    worst = max((v for k, v in m.items() if k.startswith("apcer_") and k != "apcer_max"), default=0.0)
    return {"metric": m["acer"], **m, "apcer_worst": float(worst), "samples": float(len(labels))}


def make_calibration(use_sr: bool) -> Callable[[int], Iterator[dict[str, np.ndarray]]]:
    def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
        """Real validation-split images (live and every fake kind), never the evaluation subjects."""
        x, _, _ = images("val", use_sr)
        for i in np.random.default_rng(2).permutation(len(x))[:n]:
            yield {"image": x[i][None, None]}

    return calibration_data


def _build(file: str) -> Callable[[], Any]:
    def build() -> Any:
        from biogate.exporters.nets.palm import WithSoftmax
        from biogate.exporters.training.train_palm import WEIGHTS, load_liveness

        return WithSoftmax(load_liveness(WEIGHTS / file)).eval()

    return build


def make_spec(name: str, use_sr: bool, build: Callable[[], Any], size: int, description: str) -> ModelSpec:
    """A liveness spec; the feedback loop builds one around a fine-tuned module the same way."""
    return ModelSpec(
        name=name,
        task="liveness",
        seed="001",
        build=build,
        inputs=[
            TensorSpec("image", (-1, 1, size, size), layout="NCHW", color="GRAY", normalization=NORMALIZATION)
        ],
        outputs=[TensorSpec("prob", (-1, 2), layout="NC", normalization={"classes": ["fake", "live"]})],
        calibration_data=make_calibration(use_sr),
        evaluate=make_evaluate(use_sr),
        metric="metric",
        higher_is_better=False,
        int8_budget=0.01,  # one point of ACER
        parity_atol=1e-4,
        dynamic_spatial=True,
        thresholds={"live": THRESHOLD},
        license="Apache-2.0",
        description=description,
        calibration_description="simulated validation split (seed 202), live and all fake kinds",
        role="liveness",
        evaluation="simulated test split of biogate.sim.xray: live, every fake kind (resin_bones unseen)",
    )


_DATA = (
    "simulated palm radiographs (biogate.sim.xray, split train seed 101: live + rubber, "
    "plaster/PLA, printed, rods; resin_bones held out) trained with the logistic 0/1-loss surrogate"
)
SPEC = register(
    make_spec(
        "palm_liveness",
        True,
        _build("palm_liveness.pt"),
        128,
        "4x[conv3x3-BN-ReLU-maxpool] + GAP + softmax on super-resolved palm images; " + _DATA,
    )
)
SPEC_RAW = register(
    make_spec(
        "palm_liveness_raw",
        False,
        _build("palm_liveness_raw.pt"),
        64,
        "the same classifier on raw low-resolution palm images (claim 7); " + _DATA,
    )
)
