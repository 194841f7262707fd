"""``face_sr`` / ``face_sr_rdn``: seed-000 face super-resolution ×2 (dual-channel edge net; RDN baseline).

Input ``lr`` ``(N, 3, 64, 64)``: an RGB face crop in [0, 1] (the square crop of the detected face
box grown by 25 % each side, resized to 64x64; :class:`biogate.models.SuperResolver` does it).
Output ``sr`` ``(N, 3, 128, 128)`` RGB in [0, 1] (clip on the device).  Trained by
:mod:`biogate.exporters.training.train_sr` on offline HD photographs; evaluated on held-out identities
(:data:`~biogate.exporters.training.train_sr.HELD_OUT_IDENTITIES`) degraded by antialiased bicubic ↓2.
The metric is Y-channel PSNR (dB); INT8 is fit only within ``int8_budget`` dB of FP32.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, register

SCALE = 2
LR_SIZE = 64
NORMALIZATION = {"scale": 1 / 255, "mean": [0.0] * 3, "std": [1.0] * 3}


def _build(arch: str) -> Any:
    from biogate.exporters.training.train_sr import load_net, weights_path

    return load_net(weights_path(arch, "edge", SCALE))


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """LR versions of training-side face crops and their augmented captures (never held-out faces)."""
    from biogate.exporters.data.face_data import augmented_views, load_faces
    from biogate.exporters.training.train_sr import HELD_OUT_IDENTITIES, downscale

    faces = [
        f
        for f in load_faces(size=LR_SIZE * SCALE, min_size=40, lfw=False)
        if f.identity not in HELD_OUT_IDENTITIES
    ]
    views = [v for i, f in enumerate(faces) for v in [f, *augmented_views(f, 12, seed=900 + i)]]
    for v in views[:n]:
        hr = v.image.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        yield {"lr": downscale(hr, SCALE)}


def evaluate(infer: InferFn) -> dict[str, float]:
    """Held-out Y-PSNR/SSIM of the model and of bicubic (``metric`` = PSNR in dB)."""
    from biogate.exporters.training.train_sr import evaluate_net

    m = evaluate_net(lambda lr: np.clip(infer({"lr": lr})["sr"], 0.0, 1.0), SCALE, LR_SIZE)
    return {"metric": m["psnr"], **m}


def _spec(name: str, arch: str, description: str) -> ModelSpec:
    return register(
        ModelSpec(
            name=name,
            task="super_resolution",
            seed="000",
            build=lambda: _build(arch),
            inputs=[TensorSpec("lr", (-1, 3, LR_SIZE, LR_SIZE), color="RGB", normalization=NORMALIZATION)],
            outputs=[
                TensorSpec(
                    "sr", (-1, 3, LR_SIZE * SCALE, LR_SIZE * SCALE), color="RGB", normalization=NORMALIZATION
                )
            ],
            calibration_data=calibration_data,
            evaluate=evaluate,
            metric="metric",
            higher_is_better=True,
            int8_budget=0.3,  # dB of held-out PSNR
            parity_atol=1e-4,
            thresholds={"scale": float(SCALE)},
            license="Apache-2.0",
            description=description,
            calibration_description="bicubic-downscaled training-side face crops (6 people) and captures",
            calib_samples=64,
        )
    )


SPEC = _spec(
    "face_sr",
    "dual",
    "Seed-000 dual-channel SR x2, edge configuration (K-SVD dictionary channel 8x8 patches/128 atoms + 3x3 "
    "channel, 3 Dense modules, sub-pixel upsampler, bicubic skip), trained by "
    "biogate.exporters.training.train_sr on offline HD photographs (scikit-image, insightface sample "
    "images), held-out identities for evaluation.",
)
RDN_SPEC = _spec(
    "face_sr_rdn",
    "rdn",
    "RDN-style x2 baseline (3 residual dense blocks, width 16), same data, recipe and skip as face_sr.",
)
