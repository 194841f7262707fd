"""``palm_sr``: seed 001 super-resolution of low-resolution palm radiographs (×2, SRCNN-style).

Input ``lr`` ``(N, 1, h, w)``: normalised attenuation (:func:`biogate.models.palm.log_attenuation`
of the device detector's raw counts).  Output ``sr`` ``(N, 1, 2h, 2w)`` in the same units.  Trained
by :mod:`biogate.exporters.training.train_palm` on simulated LR/HR pairs; gated on PSNR (dB, higher is
better) over held-out subjects (split ``test``, seed 303).  torch is imported only when used.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, register

NAME = "palm_sr"
EVAL_SAMPLES = 200
NORMALIZATION = {"kind": "log_attenuation", "i0": "p99.5 of the image", "a_max": 4.0, "clip": [0.0, 1.0]}


@lru_cache(maxsize=1)
def _test_set() -> Any:
    from biogate.exporters.training.train_palm import load_split

    data = load_split("test")
    pick = np.random.default_rng(0).permutation(len(data))[:EVAL_SAMPLES]
    return data.select(np.sort(pick))


def build() -> Any:
    from biogate.exporters.training.train_palm import load_sr

    return load_sr()


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """Real device images from the validation split (different subjects from the evaluation)."""
    from biogate.exporters.training.train_palm import load_split

    val = load_split("val")
    for i in np.random.default_rng(1).permutation(len(val))[:n]:
        yield {"lr": val.lr[i][None, None]}


def evaluate(infer: InferFn, batch: int = 16) -> dict[str, float]:
    """Mean PSNR (the metric) and SSIM of the SR output vs the reference detector, and bicubic's."""
    from biogate.exporters.training.train_palm import bicubic, sr_metrics

    data = _test_set()
    sr = np.concatenate(
        [infer({"lr": data.lr[i : i + batch][:, None]})["sr"][:, 0] for i in range(0, len(data), batch)]
    )
    scale = sr.shape[-1] // data.lr.shape[-1]
    m = sr_metrics(np.clip(sr, 0, 1), bicubic(data.lr, scale), data.hr)
    return {"metric": m["psnr_sr"], **m, "samples": float(len(data))}


SPEC = register(
    ModelSpec(
        name=NAME,
        task="super_resolution",
        seed="001",
        build=build,
        inputs=[TensorSpec("lr", (-1, 1, 64, 64), layout="NCHW", color="GRAY", normalization=NORMALIZATION)],
        outputs=[
            TensorSpec("sr", (-1, 1, 128, 128), layout="NCHW", color="GRAY", normalization=NORMALIZATION)
        ],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="metric",
        higher_is_better=True,
        int8_budget=0.3,  # dB of PSNR
        parity_atol=1e-4,
        dynamic_spatial=True,
        thresholds={},
        license="Apache-2.0",
        description=(
            "SRCNN-style x2 super-resolution (bicubic pre-upsampling, 7x7 extraction 1->24, 1x1 mapping "
            "24->48, 5x5 reconstruction, global residual) trained with L2 on simulated palm radiograph "
            "LR/HR pairs (biogate.sim.xray, split train, seed 101)."
        ),
        calibration_description="normalised device images from the simulated validation split (seed 202)",
    )
)
