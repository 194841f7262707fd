"""``face_refine``: the seed-000 refinement stage (spec §2.3) after ``face_sr`` (×2, 128x128 faces).

Inputs: ``image`` ``(N, 3, 128, 128)`` the super-resolved RGB face in [0, 1]; ``coords`` the
per-pixel canonical 3D coordinates and ``mask`` their coverage, both from
:func:`biogate.models.refine.coordinate_map` (generic face mesh posed from five landmarks).
Output ``refined`` RGB in [0, 1].  Trained here to remove the SR net's artefacts: the input is
``face_sr``'s output for a training-side face, the target its HR original.  Metric: held-out
Y-PSNR of the refined image (dB).  Train with ``biogate train face_refine``
(:mod:`biogate.exporters.training.tasks.face_refine`)::

    OPENBLAS_NUM_THREADS=1 nice -n 10 biogate train face_refine --data portraits --out runs/refine
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, register

NAME = "face_refine"
SCALE = 2
SIZE = 128
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "refine_x2.pt"
NORMALIZATION = {"scale": 1 / 255, "mean": [0.0] * 3, "std": [1.0] * 3}


def coords_for(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(coords (N,3,H,W), mask (N,1,H,W))`` for a batch of dlib-5 landmark sets in SR pixels."""
    from biogate.models.refine import coordinate_map

    maps = [coordinate_map(m, (SIZE, SIZE), "dlib5")[:2] for m in landmarks]
    return np.stack([c for c, _ in maps]), np.stack([k for _, k in maps])


def sr_of(hr: np.ndarray, sr_net: Any = None) -> np.ndarray:
    """``face_sr`` (PyTorch, trained weights) applied to the bicubic-↓2 of ``hr``, clipped to [0, 1]."""
    import torch

    from biogate.exporters.training.train_sr import downscale, load_net, weights_path

    net = sr_net or load_net(weights_path("dual", "edge", SCALE))
    with torch.no_grad():
        out = np.concatenate(
            [net(torch.from_numpy(downscale(hr[i : i + 16], SCALE))).numpy() for i in range(0, len(hr), 16)]
        )
    return np.clip(out, 0.0, 1.0)


@lru_cache(maxsize=1)
def training_faces(views: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """HR crops ``(N,3,128,128)`` and landmarks of the training-side identities and their captures."""
    from biogate.exporters.data.face_data import augmented_views, load_faces
    from biogate.exporters.training.train_sr import HELD_OUT_IDENTITIES

    hr, marks = [], []
    for i, f in enumerate(load_faces(size=SIZE, min_size=40, lfw=False)):
        if f.identity in HELD_OUT_IDENTITIES:
            continue
        for v in [f, *augmented_views(f, views, seed=700 + i)]:
            hr.append(v.image.transpose(2, 0, 1).astype(np.float32) / 255.0)
            marks.append(v.landmarks)
    return np.stack(hr), np.stack(marks)


@lru_cache(maxsize=1)
def _held_out_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from biogate.exporters.training.train_sr import held_out_faces

    hr, marks, _ = held_out_faces(SCALE)
    coords, mask = coords_for(marks)
    return sr_of(hr), coords, mask, hr


def evaluate(infer: InferFn) -> dict[str, float]:
    """Held-out Y-PSNR/SSIM of the refined faces (``metric``) and of the SR input they refine."""
    return evaluate_inputs(infer, *_held_out_inputs())


def evaluate_inputs(
    infer: InferFn, sr: np.ndarray, coords: np.ndarray, mask: np.ndarray, hr: np.ndarray
) -> dict[str, float]:
    """Y-PSNR/SSIM of refining ``sr`` (with its coordinate maps) against ``hr``, and of ``sr`` itself."""
    from biogate.exporters.training.train_sr import sr_scores

    refined = np.concatenate(
        [
            infer({"image": sr[i : i + 8], "coords": coords[i : i + 8], "mask": mask[i : i + 8]})["refined"]
            for i in range(0, len(sr), 8)
        ]
    )
    ours, base = sr_scores(np.clip(refined, 0, 1), hr, SCALE), sr_scores(sr, hr, SCALE)
    return {
        "metric": ours["psnr"],
        "psnr": ours["psnr"],
        "ssim": ours["ssim"],
        "psnr_sr_input": base["psnr"],
        "ssim_sr_input": base["ssim"],
        "psnr_gain_db_vs_sr": ours["psnr"] - base["psnr"],
        "samples": float(len(sr)),
    }


def calibration_data(n: int) -> Iterator[dict[str, np.ndarray]]:
    """``face_sr`` outputs of training-side faces with their coordinate maps."""
    hr, marks = training_faces()
    pick = np.random.default_rng(3).permutation(len(hr))[:n]
    sr = sr_of(hr[pick])
    coords, mask = coords_for(marks[pick])
    for i in range(len(pick)):
        yield {"image": sr[i : i + 1], "coords": coords[i : i + 1], "mask": mask[i : i + 1]}


def build() -> Any:
    import torch

    from biogate.errors import ConfigError
    from biogate.exporters.nets.refine import FaceRefiner, RefineConfig

    if not WEIGHTS.is_file():
        raise ConfigError(f"no refinement weights at {WEIGHTS}; train with `python -m {__name__} --train`")
    blob = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    net = FaceRefiner(RefineConfig(**blob["config"]))
    net.load_state_dict(blob["state_dict"])
    return net.eval()


SPEC = register(
    ModelSpec(
        name=NAME,
        task="face_refinement",
        seed="000",
        build=build,
        inputs=[
            TensorSpec("image", (-1, 3, SIZE, SIZE), color="RGB", normalization=NORMALIZATION),
            TensorSpec(
                "coords", (-1, 3, SIZE, SIZE), normalization={"note": "canonical XYZ / 1.5, coordinate_map()"}
            ),
            TensorSpec("mask", (-1, 1, SIZE, SIZE), normalization={"note": "1 where the posed mesh covers"}),
        ],
        outputs=[TensorSpec("refined", (-1, 3, SIZE, SIZE), color="RGB", normalization=NORMALIZATION)],
        calibration_data=calibration_data,
        evaluate=evaluate,
        metric="metric",
        higher_is_better=True,
        int8_budget=0.3,
        parity_atol=1e-4,
        license="Apache-2.0",
        description=(
            "Seed-000 refinement: generic-face-mesh 3D coordinate map (stand-in for 3DDFA_V2) -> "
            "NeuTex-style "
            "XYZ->UV->XYZ MLPs and UV texture MLP -> two-level U-Net renderer; trained on face_sr outputs of "
            "training-side faces to match their HR originals."
        ),
        calibration_description="face_sr outputs of training-side faces with their coordinate maps",
        calib_samples=32,
    )
)
