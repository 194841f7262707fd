"""``face_orient``: the any-orientation cascade's quarter-turn classifier (which way up is the face).

Trained by :mod:`biogate.exporters.training.train_face_orient` on proposal-like crops of the real
training photographs' faces and the LFW-subset faces; weights ``exporters/weights/face_orient.pt``
and the training record beside them.  Like ``face_detect_any``, the bundle's evaluation (and its
INT8 gate) is the *whole* :class:`biogate.models.AnyAngleFaceDetector` cascade with this net
swapped in (the proposal net, R-Net and O-Net in PyTorch FP32) on the held-out real photographs at
every rotation; calibration: training-face crops (never the held-out ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, load_trained, read_record, register
from biogate.exporters.zoo.mtcnn import NORMALIZATION

NAME = "face_orient"
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "face_orient.pt"


def build() -> Any:
    """The trained classifier (output ``prob`` (N, 4)) in eval mode."""
    from biogate.exporters.nets.face_orient import FaceOrientNet

    width = int(read_record(WEIGHTS.with_suffix(".json")).get("config", {}).get("width", 16))
    return load_trained(FaceOrientNet(width), WEIGHTS, "biogate.exporters.training.train_face_orient")


def evaluate(infer: InferFn) -> dict[str, float]:
    """The cascade's per-rotation held-out metrics with ``infer`` as its classifier."""
    from biogate.exporters.zoo.face_detect_any import cascade_metrics, detector

    return cascade_metrics(detector(orienter=infer))


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """Proposal-like crops of the training photographs' and LFW faces, in batches of 16."""
    from biogate.exporters.data.face_orient_samples import OrientSampler
    from biogate.exporters.training.train_face_orient import to_tensor

    sampler = OrientSampler(seed=1234)
    for _ in range(n):
        yield {"image": to_tensor(sampler.batch(16)[0]).numpy()}


register(
    ModelSpec(
        name=NAME,
        task="face_detection",
        seed="000",
        build=build,
        inputs=[TensorSpec("image", (-1, 3, 24, 24), color="RGB", normalization=NORMALIZATION)],
        outputs=[TensorSpec("prob", (-1, 4), layout="NC")],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="worst_rotation_ap50",
        higher_is_better=True,
        int8_budget=0.05,
        parity_atol=1e-3,
        license="Apache-2.0 (trained by biogate on offline real photographs)",
        description=(
            "Quarter-turn classifier of biogate.models.AnyAngleFaceDetector: given a proposal's 24-px "
            "crop at its own angle, the probability that 0/90/180/270 degrees more make the face upright "
            "(R-Net cannot tell). Trained on proposal-like crops of the real training photographs' faces "
            "and LFW-subset faces at every angle; metrics: the whole cascade on held-out real photographs."
        ),
        role="detector",
        evaluation=(
            "the whole cascade on the held-out real photographs (26 faces, 6 photos) turned by "
            "0/90/180/270/+-30 degrees; recall and ap50 are the worst rotation's"
        ),
        calibration_description="proposal-like 24-px crops of training-photograph and LFW faces at any angle",
        calib_samples=16,
        int8_exclude_ops=("Softmax",),
    )
)
