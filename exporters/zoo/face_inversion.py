"""``face_inversion_dlib128``: the seed-003 black-box inverse model of the dlib embedder (issue #11).

Weights: ``exporters/weights/inversion_dlib128.pt`` (float16, trained by
:mod:`biogate.exporters.training.train_inversion`; command, data and metrics in docs/inversion.md).  It is an
*attack* model: the SDK ships it so integrators can audit their own galleries
(``biogate audit inversion``), not to run at a gate.

Input ``embedding`` (N, 128): a unit dlib embedding.  Output ``image`` (N, 3, 128, 128): RGB in
[0, 1], the face the model believes the template came from (as a 128×128 resize of dlib's chip).

Evaluation: mean L1 to each held-out identity's average face (the seed's test metric) over the
test identities of the training split (33 identities / 360 images; disjoint from training).  INT8
is fit when it raises that L1 by at most 0.005.  Calibration: embeddings of training identities only.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, register

NAME = "face_inversion_dlib128"
WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "inversion_dlib128.pt"


def build() -> Any:
    """The trained inverse model, eval mode (no input noise)."""
    from biogate.errors import BundleError
    from biogate.exporters.nets.inversion import load_inverse_net

    if not WEIGHTS.is_file():
        raise BundleError(
            f"inverse-model weights {WEIGHTS} are missing "
            "(train with biogate.exporters.training.train_inversion)"
        )
    return load_inverse_net(str(WEIGHTS))[0]


@lru_cache(maxsize=1)
def _pairs() -> dict[str, np.ndarray]:
    """Embeddings (dlib ResNet in PyTorch) and average faces of the split, rebuilt from the real faces."""
    import torch

    from biogate.exporters.audit.data import (
        average_faces,
        build_identities,
        embed,
        split_identities,
        to_target,
    )
    from biogate.exporters.nets.dlib_resnet import load_dlib_facenet
    from biogate.exporters.nets.inversion import load_inverse_net

    torch.set_num_threads(1)
    meta = load_inverse_net(str(WEIGHTS))[1]
    ids = build_identities()
    train_ids, test_ids = split_identities(ids.kinds)
    if [ids.names[i] for i in test_ids] != meta.get("test_ids", [ids.names[i] for i in test_ids]):
        raise RuntimeError("the identity split differs from the one the weights were trained with")
    net = load_dlib_facenet(normalize=True)

    def encode(chips: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(
                torch.from_numpy(np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32))
            ).numpy()

    test = np.flatnonzero(np.isin(ids.labels, test_ids))
    train = np.flatnonzero(np.isin(ids.labels, train_ids) & ids.original)
    faces = average_faces(to_target(ids.chips[test]), ids.labels[test], len(ids.names))
    return {
        "test_embeddings": embed(encode, ids.chips[test]),
        "test_targets": faces[ids.labels[test]],
        "calib_embeddings": embed(encode, ids.chips[train]),
    }


def evaluate(infer: InferFn, batch: int = 32) -> dict[str, float]:
    """Mean L1 of reconstructions to the held-out identities' average faces."""
    p = _pairs()
    emb, tgt = p["test_embeddings"], p["test_targets"]
    l1 = []
    for k in range(0, len(emb), batch):
        out = np.asarray(infer({"embedding": emb[k : k + batch]})["image"], np.float32)
        l1.append(np.abs(out - tgt[k : k + batch]).mean(axis=(1, 2, 3)))
    l1 = np.concatenate(l1)
    return {"metric": float(l1.mean()), "reconstruction_l1": float(l1.mean()), "test_images": float(len(l1))}


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """Embeddings of the training identities' real photographs (never the test identities)."""
    emb = _pairs()["calib_embeddings"][:n]
    for k in range(0, len(emb), 16):
        yield {"embedding": emb[k : k + 16]}


register(
    ModelSpec(
        name=NAME,
        task="template_inversion",
        seed="003",
        build=build,
        inputs=[TensorSpec("embedding", (-1, 128), layout="NC")],
        outputs=[
            TensorSpec(
                "image",
                (-1, 3, 128, 128),
                color="RGB",
                normalization={"scale": 1.0, "note": "RGB in [0, 1]; x255 for pixels"},
            )
        ],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="reconstruction_l1",
        higher_is_better=False,
        int8_budget=0.005,
        parity_atol=1e-3,
        license=(
            "Apache-2.0 (trained by biogate on the offline real faces of biogate.exporters.data.face_data)"
        ),
        description=(
            "Seed-003 black-box inverse model of the dlib face embedder: 128-d embedding -> FC+BN -> "
            "4 transposed-conv blocks with one residual block per gap -> 3x128x128 sigmoid face; width 0.5 "
            "of the seed's channels; trained with L1 to per-identity average faces of 76 identities "
            "(augmented real faces). An audit tool."
        ),
        calibration_description="dlib embeddings of the original photographs of the 76 training identities",
        calib_samples=76,
    )
)
