"""``mtcnn_pnet``, ``mtcnn_rnet``, ``mtcnn_onet``: MTCNN with facenet-pytorch's MIT weights.

The three nets are separate bundles because the SDK cascade (:class:`biogate.models.MTCNNDetector`)
runs them separately (P-Net over a pyramid of sizes, R-Net/O-Net over batches of crops).  Each
net's evaluation runs the *whole* cascade on the annotated real photographs of
:mod:`biogate.exporters.data.face_data` with that one net replaced by the candidate (FP32 ONNX or INT8)
and the other two in PyTorch FP32, so an INT8 net is judged by what it does to detection: AP@0.5
must not drop by more than ``int8_budget``.

Calibration: real data of each net's own domain: P-Net sees the photographs at pyramid scales,
R-Net/O-Net see the candidate crops the previous stages produce on them.

The weights come from the pinned ``facenet-pytorch==2.6.0`` wheel through
:mod:`biogate.exporters.data.weight_packages` (installed copy, cache, or one ``pip download
--no-deps``; never imported).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec, TensorSpec, register

NORMALIZATION = {"scale": 1.0, "mean": [127.5] * 3, "std": [128.0] * 3}
LICENSE = "MIT (facenet-pytorch; weights converted from the original MTCNN release)"
THRESHOLDS = {"pnet": 0.6, "rnet": 0.7, "onet": 0.7}
TILE = 96  # P-Net calibration/parity tile side
_OUTPUTS = {"pnet": ("prob", "reg"), "rnet": ("prob", "reg"), "onet": ("prob", "reg", "landmarks")}


@lru_cache(maxsize=3)
def _net(name: str) -> Any:
    from biogate.exporters.nets.mtcnn import load_mtcnn_net

    return load_mtcnn_net(name)


def torch_infer(name: str) -> InferFn:
    """PyTorch FP32 forward of one net as an infer callable (numpy dict in and out)."""
    import torch

    net, names = _net(name), _OUTPUTS[name]

    def infer(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            out = net(torch.from_numpy(np.ascontiguousarray(inputs["image"], dtype=np.float32)))
        return {n: o.numpy() for n, o in zip(names, out)}

    return infer


def detector(**swap: InferFn) -> Any:
    """The SDK cascade with PyTorch nets, any of them replaced (``pnet=``, ``rnet=``, ``onet=``)."""
    from biogate.models.face_detect import MTCNNDetector

    nets = {n: swap.get(n) or torch_infer(n) for n in ("pnet", "rnet", "onet")}
    return MTCNNDetector(nets["pnet"], nets["rnet"], nets["onet"])


def evaluate_cascade(name: str, infer: InferFn) -> dict[str, float]:
    """Detection metrics on every annotated real photograph with net ``name`` replaced by ``infer``."""
    from biogate.exporters.data.face_data import load_photos
    from biogate.exporters.data.face_detect_eval import detection_metrics

    det = detector(**{name: infer})

    def run(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = det.detect(image)
        return np.array([d.box for d in found]).reshape(-1, 4), np.array([d.score for d in found])

    metrics = detection_metrics(run, load_photos())
    return {"metric": metrics["ap50"], **metrics}


def _calibration(name: str, n: int) -> Iterator[dict[str, np.ndarray]]:
    import cv2

    from biogate.exporters.data.face_data import load_photos
    from biogate.models.detect_ops import crop_resize
    from biogate.models.face_detect import _normalise, pyramid_scales

    det = detector()
    count = 0
    for photo in load_photos():
        img = photo.image
        if name == "pnet":
            # Same-size tiles of the pyramid levels (the exporter stacks samples into one batch).
            h, w = img.shape[:2]
            for scale in pyramid_scales(h, w, 20.0, 0.709):
                level = cv2.resize(
                    img, (int(np.ceil(w * scale)), int(np.ceil(h * scale))), interpolation=cv2.INTER_AREA
                )
                for y in range(0, level.shape[0] - TILE + 1, TILE):
                    for x in range(0, level.shape[1] - TILE + 1, TILE):
                        if count >= n:
                            return
                        yield {"image": _normalise(level[None, y : y + TILE, x : x + TILE])}
                        count += 1
            continue
        boxes = det._stage1(img)
        if name == "onet" and len(boxes):
            boxes = det._stage2(img, boxes)
        size = 24 if name == "rnet" else 48
        crops = crop_resize(img, boxes[:, :4], size) if len(boxes) else np.zeros((0, size, size, 3), np.uint8)
        for i in range(0, len(crops), 16):
            if count >= n:
                return
            yield {"image": _normalise(crops[i : i + 16])}
            count += len(crops[i : i + 16])


def _spec(name: str, size: int) -> ModelSpec:
    shape = (-1, 3, -1, -1) if name == "pnet" else (-1, 3, size, size)
    outputs = [
        TensorSpec(
            "prob", (-1, 2, -1, -1) if name == "pnet" else (-1, 2), layout="NCHW" if name == "pnet" else "NC"
        ),
        TensorSpec(
            "reg", (-1, 4, -1, -1) if name == "pnet" else (-1, 4), layout="NCHW" if name == "pnet" else "NC"
        ),
    ]
    if name == "onet":
        outputs.append(TensorSpec("landmarks", (-1, 10), layout="NC"))
    return ModelSpec(
        name=f"mtcnn_{name}",
        task="face_detection",
        seed="000",
        build=lambda: _net(name),
        inputs=[TensorSpec("image", shape, color="RGB", normalization=NORMALIZATION)],
        outputs=outputs,
        calibration_data=lambda n: _calibration(name, n),
        evaluate=lambda infer: evaluate_cascade(name, infer),
        metric="ap50",
        higher_is_better=True,
        int8_budget=0.05,
        parity_atol=1e-4,
        dynamic_spatial=name == "pnet",
        thresholds={"face": THRESHOLDS[name]},
        license=LICENSE,
        description=(
            f"MTCNN {name.upper()} (Zhang et al. 2016) with facenet-pytorch 2.6.0's weights; "
            "metrics: the whole SDK cascade on the annotated real photographs of "
            "biogate.exporters.data.face_data (4 photos, 9 faces) with this net swapped in."
        ),
        calibration_description=(
            "pyramid levels of the real photographs"
            if name == "pnet"
            else "cascade candidate crops of the real photographs"
        ),
        calib_samples=64,
        role="detector",
        evaluation="the SDK cascade on the 4 annotated real photographs (9 faces) of exporters.data",
    )


for _name, _size in (("pnet", 12), ("rnet", 24), ("onet", 48)):
    register(_spec(_name, _size))
