"""``thermal_face``: seed 002's face temperature detection model (identity + temperature, thermal only).

Input: one single-channel 64×64 thermal face crop, object temperature in °C normalised as
``(T − 33) / 4`` (the SDK's :func:`biogate.models.thermal.crop_face` makes it from a
blackbody-corrected frame). Outputs: a 64-d L2-normalised identity ``embedding`` and the body
``temperature`` in °C. The SDK wrapper is :class:`biogate.models.ThermalFace`; it reads the
canthus calibration and the fusion weights from ``thresholds``.

Evaluation (and the INT8 gate) runs on a held-out generated set — identities and ambient bands
never seen in training — and reports ``temp_mae_c`` (model head vs. core temperature) and
``id_top1`` (thermal-only 1:N against a gallery of 3 enrolment captures per person). The gated
metric ``screening_loss`` is their sum ``temp_mae_c + (1 − id_top1)``: INT8 may cost at most ``int8_budget``
of it (0.03: e.g. 0.03 °C of MAE, or 3 points of top-1, or a mix). Retrain into a bundle with
``biogate train`` (docs/training.md)::

    nice -n 10 biogate train thermal_face --data thermal-sim --out runs/thermal

torch is imported only inside functions, so ``registry.load_all`` stays light.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, read_record, register

NAME = "thermal_face"
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "thermal_face.pt"
NORMALIZATION = {"unit": "celsius", "scale": 1.0, "mean": [33.0], "std": [4.0]}
#: Held-out evaluation set: persons 1000+ (training uses 0…79), held-out ambient bands and sensors.
EVAL_IDENTITIES = range(1000, 1030)
EVAL_CAPTURES = range(8)
GALLERY_CAPTURES = 3
SEED = 0
#: Generated sets are cached here (deterministic, keyed by their parameters).
CACHE = Path.home() / ".cache" / "biogate" / "thermal"


#: Written beside the weights by the training script: calibration, metrics, schedule, history.
RECORD = WEIGHTS.with_suffix(".json")


@lru_cache(maxsize=1)
def _meta() -> dict[str, Any]:
    """The training record (no torch needed); empty before the model was ever trained."""
    return read_record(RECORD)


@lru_cache(maxsize=2)
def heldout_set(
    identities: range = EVAL_IDENTITIES, captures: range = EVAL_CAPTURES
) -> dict[str, np.ndarray]:
    """The held-out generated set through the SDK's chain (crops with and without blackbody)."""
    from biogate.exporters.training.train_thermal import generate_set

    return generate_set(SEED, "heldout", identities, captures, with_rgb=False, workers=1, cache=CACHE)


def identity_top1(embeddings: np.ndarray, ids: np.ndarray, captures: np.ndarray, gallery: int) -> float:
    """1:N top-1: each person enrolled with the mean of their first ``gallery`` captures."""
    people = np.unique(ids)
    enrol = np.stack([embeddings[(ids == p) & (captures < gallery)].mean(0) for p in people])
    enrol /= np.linalg.norm(enrol, axis=1, keepdims=True)
    probe = captures >= gallery
    best = people[np.argmax(embeddings[probe] @ enrol.T, axis=1)]
    return float((best == ids[probe]).mean())


def evaluate(infer: InferFn, batch: int = 64) -> dict[str, float]:
    """Temperature MAE/p95 (°C, model head, blackbody-corrected) and thermal-only identity top-1."""
    return evaluate_set(infer, heldout_set(), GALLERY_CAPTURES, batch)


def evaluate_set(
    infer: InferFn, data: dict[str, np.ndarray], gallery: int, batch: int = 64
) -> dict[str, float]:
    """The held-out figures of any crops set (``ir``, ``core``, ``identity``, ``capture`` arrays)."""
    embs, temps = [], []
    for k in range(0, len(data["core"]), batch):
        out = infer({"thermal": np.ascontiguousarray(data["ir"][k : k + batch], dtype=np.float32)})
        embs.append(np.asarray(out["embedding"]))
        temps.append(np.asarray(out["temperature"]).reshape(-1))
    emb, temp = np.concatenate(embs), np.concatenate(temps)
    err = np.abs(temp - data["core"])
    top1 = identity_top1(emb, data["identity"], data["capture"], gallery)
    mae = float(err.mean())
    return {
        "metric": mae + (1.0 - top1),
        "screening_loss": mae + (1.0 - top1),
        "temp_mae_c": mae,
        "temp_p95_abs_err_c": float(np.percentile(err, 95)),
        "id_top1": top1,
        "samples": float(len(err)),
    }


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """Up to ``n`` training-split crops (persons 0…79, captures the net trained on)."""
    from biogate.exporters.training.train_thermal import generate_set

    data = generate_set(SEED, "train", range(0, 80, 5), range(26, 30), with_rgb=False, workers=1, cache=CACHE)
    order = np.random.default_rng(0).permutation(len(data["core"]))[:n]
    for i in order:
        yield {"thermal": data["ir"][i : i + 1].astype(np.float32)}


def build() -> Any:
    """The trained export module (eval mode) from ``exporters/weights/thermal_face.pt``."""
    from biogate.exporters.training.train_thermal import load_export

    model, _ = load_export(WEIGHTS)
    return model


def _thresholds() -> dict[str, float]:
    cal = dict(_meta().get("calibration", {}))
    cal["alarm_c"] = 37.3
    return {k: float(v) for k, v in cal.items()}


def _calibration_hash() -> str:
    return hashlib.sha256(repr(("train", SEED, range(0, 80, 5), range(26, 30))).encode()).hexdigest()[:16]


SPEC = register(
    ModelSpec(
        name=NAME,
        task="thermal_face_identity_temperature",
        seed="002",
        build=build,
        inputs=[
            TensorSpec("thermal", (-1, 1, 64, 64), layout="NCHW", color="GRAY", normalization=NORMALIZATION)
        ],
        outputs=[
            TensorSpec("embedding", (-1, 64), layout="NC"),
            TensorSpec("temperature", (-1, 1), layout="NC", normalization={"unit": "celsius"}),
        ],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="screening_loss",
        higher_is_better=False,
        int8_budget=0.03,
        parity_atol=1e-4,
        thresholds=_thresholds(),
        license="Apache-2.0",
        description=(
            "Seed 002 face temperature detection model: RGB identity pre-training (3x3x3 first layer), "
            "gradient-magnitude pruning to 3x3x1, RGB/IR primary extractors and an RGB weight lowered "
            "0.5 -> 0.0 in steps of 0.1; identity embedding + temperature heads. Trained by biogate on "
            "its own physically based radiometric face generator (biogate.sim.thermal); no "
            "real thermal data was used. Evaluated on held-out generated identities and ambients."
        ),
        calibration_description=f"generated thermal face crops, training split, hash {_calibration_hash()}",
        role="thermal",
        evaluation="held-out generated identities 1000-1029 and ambients (model head vs core temperature)",
    )
)
