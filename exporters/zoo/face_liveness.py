"""``face_liveness``: seed 004's silent liveness Δ, trained on genuine faces only.

The exported graph is the inference sub-graph alone (first encoder → face/background decoders →
recombination → second encoder → Δ = mean |z_b − z'_b|); the clear-face head, the discriminator and
the identity network are training-only and never exported. The SDK wrapper is
:class:`biogate.models.FaceLiveness`; it reads ``thresholds["delta"]`` from the manifest.

Evaluation (and the INT8 gate) is ISO/IEC 30107-3 ACER at the *shipped* threshold on held-out
genuine faces and the simulated attacks of :mod:`biogate.exporters.pad` — exactly what a device
running the bundle would decide. The shipped weights (round 3, docs/liveness.md) came from the
pre-harness trainer; ``biogate train`` runs the same recipe into a bundle (docs/training.md)::

    nice -n 5 biogate train face_liveness --data portraits --seed 4 --steps 2000 --batch 8 --lr 5e-4 \
        --set delta_norm=relative --set d_lr_scale=0.2 --set identity_batch=4 \
        --set val_captures=12 --set test_rounds=4 --out runs/liveness

torch is imported only inside functions, so ``registry.load_all`` stays light.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, read_record, register

NAME = "face_liveness"
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "liveness_tiny.pt"
#: Written beside the weights by the training script: config, threshold, training record.
RECORD = WEIGHTS.with_suffix(".json")
CROP_MARGIN = 0.25  # face_data's default crop: the face box plus 25 % of its side on every side
NORMALIZATION = {"scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}


@lru_cache(maxsize=1)
def _record() -> dict[str, Any]:
    """The training record (no torch needed); empty before the model was ever trained."""
    return read_record(RECORD)


def input_size() -> int:
    return int(_record().get("config", {}).get("input_size", 64))


def threshold() -> float:
    """The Δ threshold shipped with the weights (calibrated on genuine validation faces)."""
    return float(_record().get("threshold", float("nan")))


@lru_cache(maxsize=1)
def _protocol() -> Any:
    """The evaluation protocol of the shipped weights: the split they were trained on, held-out part.

    ``portraits`` (the shipped weights): fold ``fold`` of the identity-disjoint split of every
    full-resolution face. ``hd``/``builtin`` (round 1-2 weights): the standard split by face image.
    """
    from biogate.exporters.pad.evaluate import build_protocol

    train = _record().get("train", {})
    source = train.get("data", "builtin")
    # "hd" trains on the full-resolution faces of the builtin split; it is evaluated on that split.
    return build_protocol(
        input_size(),
        source="builtin" if source == "hd" else source,
        split_seed=int(train.get("seed", 4)),
        fold=int(train.get("fold", 0)),
        folds=int(train.get("folds", 5)),
    )


def build() -> Any:
    """The trained inference sub-graph (``image`` → ``delta``) in eval mode."""
    from biogate.exporters.nets.liveness import LivenessDelta
    from biogate.exporters.training.train_liveness import load_checkpoint

    generator, _ = load_checkpoint(WEIGHTS)
    return LivenessDelta(generator).eval()


def export_onnx(path: str | Path, model: Any = None, size: int | None = None, opset: int = 17) -> Path:
    """Write the inference sub-graph (``image`` N×3×S×S → ``delta`` N, dynamic batch) as ONNX.

    A direct torch.onnx export for tests and benchmarks; :func:`biogate.exporters.export` builds
    the full bundle (parity, INT8 gate, manifest) from this module's :class:`ModelSpec`.
    """
    import torch

    model = build() if model is None else model
    size = input_size() if size is None else int(size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        model.eval(),
        (example,),
        str(path),
        input_names=["image"],
        output_names=["delta"],
        dynamic_axes={"image": {0: "batch"}, "delta": {0: "batch"}},
        opset_version=opset,
        dynamo=False,
    )
    return path


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """Up to ``n`` genuine validation captures (real faces; never attacks, never test faces)."""
    return protocol_calibration(_protocol(), n)


def protocol_calibration(protocol: Any, n: int) -> Iterator[dict[str, np.ndarray]]:
    """Up to ``n`` genuine validation captures of ``protocol`` as model inputs."""
    from biogate.exporters.pad.protocol import to_tensor_layout

    images = protocol.val.bona_fide
    for i in range(min(n, len(images))):
        yield {"image": to_tensor_layout(images[i : i + 1])}


def delta_scorer(infer: InferFn, batch: int = 64) -> Any:
    """Δ of RGB ``uint8`` presentations (N×S×S×3) through ``infer``."""
    from biogate.exporters.pad.protocol import to_tensor_layout

    def score(images: np.ndarray) -> np.ndarray:
        parts = [
            np.asarray(infer({"image": to_tensor_layout(images[i : i + batch])})["delta"]).reshape(-1)
            for i in range(0, len(images), batch)
        ]
        return np.concatenate(parts)

    return score


def evaluate(infer: InferFn, batch: int = 64) -> dict[str, float]:
    """ACER (``metric``), worst-species APCER and BPCER at the shipped threshold, through ``infer``."""
    return evaluate_protocol(infer, _protocol(), threshold(), batch)


def evaluate_protocol(infer: InferFn, protocol: Any, tau: float, batch: int = 64) -> dict[str, float]:
    """ACER (``metric``), worst-species APCER and BPCER of ``protocol``'s test set at threshold ``tau``."""
    from biogate.exporters.pad.evaluate import score_protocol

    run = score_protocol(protocol, delta_scorer(infer, batch), threshold=tau)
    summary = run.report.summary()
    return {"metric": summary["acer"], **summary, **{f"apcer_{k}": v for k, v in run.report.apcer.items()}}


SIZE = input_size()

register(
    ModelSpec(
        name=NAME,
        task="liveness",
        seed="004",
        build=build,
        inputs=[
            TensorSpec("image", (-1, 3, input_size(), input_size()), color="RGB", normalization=NORMALIZATION)
        ],
        outputs=[TensorSpec("delta", (-1,), layout="N")],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="acer",
        higher_is_better=False,
        int8_budget=0.02,
        parity_atol=1e-4,
        thresholds={"delta": threshold(), "crop_margin": CROP_MARGIN},
        license="Apache-2.0",
        description=(
            "Positive-only silent face liveness (seed 004): encoder/decoder/re-encoder trained by biogate on "
            "genuine faces only (exporters.face_data train split; see docs/liveness.md for the shipped run), "
            "Δ = mean |z_b − z'_b| (relative form: / mean |z_b|); threshold calibrated on genuine validation "
            "faces for BPCER 5 %. "
            "Evaluated on held-out genuine faces and simulated print/replay/partial attacks."
        ),
        calibration_description="genuine validation face captures (exporters.face_data, validation split)",
        role="liveness",
        evaluation=(
            "held-out genuine faces and every simulated attack species of exporters.pad "
            "(ACER and worst-species APCER at the shipped threshold; docs/liveness.md)"
        ),
    )
)
