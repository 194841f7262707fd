"""The model registry: every model the exporters can turn into a bundle.

A model module in :mod:`biogate.exporters.zoo` builds a :class:`ModelSpec` and calls
:func:`register`.  The exporter (ONNX export, INT8 calibration, TensorRT, bundle writer)
works only through this contract, so every model of every seed goes the same way.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biogate.bundle.fitness import ROLES
from biogate.errors import ConfigError

#: ``infer(inputs) -> outputs``: a PyTorch, ONNX Runtime or TensorRT forward pass over numpy dicts.
InferFn = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor as the SDK must feed or read it.

    ``shape`` uses -1 for dynamic axes (batch is always axis 0 and dynamic).
    ``layout`` is e.g. ``NCHW``/``NC``; ``color`` is ``RGB``, ``BGR``, ``GRAY`` or ``none``;
    ``normalization`` says how raw pixels become the tensor, e.g.
    ``{"scale": 1/255, "mean": [0.5]*3, "std": [0.5]*3}`` meaning ``(x*scale - mean)/std``.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    layout: str = "NCHW"
    color: str = "none"
    normalization: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "layout": self.layout,
            "color": self.color,
            "normalization": dict(self.normalization),
        }


#: The input of the nets that take any-size RGB images as ``pixel / 255`` (the face detectors).
IMAGE_RGB01 = TensorSpec(
    "image",
    (-1, 3, -1, -1),
    color="RGB",
    normalization={"scale": 1 / 255, "mean": [0.0] * 3, "std": [1.0] * 3},
)


@dataclass
class ModelSpec:
    """Everything the exporter needs to know about one model.

    Attributes:
        name: unique bundle name, e.g. ``face_embed_dlib``.
        task: what it does (``face_detection``, ``face_embedding``, ``super_resolution``, ``liveness``, ...).
        seed: the seed document it implements (``"000"`` … ``"004"``) or ``"none"``.
        build: returns the PyTorch module with its trained weights, in eval mode.
        inputs / outputs: tensor specs (output ``shape``/``layout`` describe what the SDK reads).
        calibration_data: ``calibration_data(n)`` yields up to ``n`` input dicts of *real* samples of
            the model's own domain (never random tensors).
        evaluate: ``evaluate(infer)`` runs the model's own evaluation through ``infer`` and returns
            metrics; must contain ``metric``.
        metric: name of the primary metric in ``evaluate``'s result.
        higher_is_better: direction of ``metric``.
        int8_budget: largest allowed FP32→INT8 change of ``metric`` in the bad direction.
        parity_atol: max-abs FP32 ONNX vs PyTorch error, relative to the output scale.
        dynamic_spatial: whether H/W may vary at run time.
        thresholds: decision thresholds the SDK must use (copied to the manifest).
        license: licence of the weights.
        description: one paragraph for the manifest and docs (data used, how trained).
        version: bundle version string.
        calibration_description: what the calibration samples are (for the manifest).
        calib_samples / calib_method: how many samples and which method INT8 calibration uses.
        parity_min_cosine: cosine floor of the ONNX-vs-PyTorch parity check.
        int8_exclude_ops: op types that always stay FP32 in the INT8 model.
        training: the manifest's ``training`` section (data, split, world size, steps, seed,
            held-out metrics) when the weights come from ``biogate train``; empty otherwise.
        role: the part the model plays in an access decision — ``detector``, ``embedder``,
            ``liveness`` or ``thermal`` (:data:`biogate.bundle.fitness.BUDGETS` names the metrics
            ``evaluate`` must return for it) — or ``""`` for a model that decides nothing.
        evaluation: one line naming the held-out data ``evaluate`` measures on (the manifest's
            ``fitness.evaluation``; default: ``description``).
    """

    name: str
    task: str
    seed: str
    build: Callable[[], Any]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    calibration_data: Callable[[int], Iterable[dict[str, np.ndarray]]]
    evaluate: Callable[[InferFn], dict[str, float]]
    metric: str
    higher_is_better: bool = True
    int8_budget: float = 0.01
    parity_atol: float = 1e-4
    dynamic_spatial: bool = False
    thresholds: dict[str, float] = field(default_factory=dict)
    license: str = "Apache-2.0"
    description: str = ""
    version: str = "1"
    calibration_description: str = ""
    # Optional exporter knobs (added later; defaults keep older model modules valid).
    calib_samples: int = 128  # calibration samples drawn from ``calibration_data``
    calib_method: str = "minmax"  # default INT8 calibration method: minmax | entropy | percentile
    parity_min_cosine: float = 0.9999  # cosine floor of FP32 ONNX vs PyTorch outputs
    int8_exclude_ops: tuple[str, ...] = ()  # op types always kept in FP32 (e.g. a final Softmax)
    training: dict[str, Any] = field(default_factory=dict)  # biogate train's record (manifest "training")
    role: str = ""  # deciding role (fitness contract) or "" for none
    evaluation: str = ""  # the held-out evaluation, in one line, for the manifest's fitness section


_REGISTRY: dict[str, ModelSpec] = {}


def read_record(path: Path) -> dict[str, Any]:
    """A model's training record (the JSON its training script writes beside the weights).

    Empty when the model was never trained or the file is unreadable, so that importing the
    registry never needs torch or the weights.
    """
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def load_trained(model: Any, weights: Path, trainer: str) -> Any:
    """``model`` with the state dict in ``weights`` loaded, in eval mode.

    Raises:
        BundleError: ``weights`` is missing; the message names ``trainer``, the module that makes it
            (or, when it holds a space, the command, e.g. ``biogate train face_detect_yolo``).
    """
    import torch

    from biogate.errors import BundleError

    if not Path(weights).is_file():
        how = trainer if " " in trainer else f"python -m {trainer}"
        raise BundleError(f"{weights} is missing: train it with {how}")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec``; a second model with the same name is an error."""
    if spec.role and spec.role not in ROLES:
        raise ConfigError(f"model {spec.name!r}: role {spec.role!r} is not one of {', '.join(ROLES)}")
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ConfigError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def load_all() -> None:
    """Import every module of :mod:`biogate.exporters.zoo` so their models register."""
    package = importlib.import_module("biogate.exporters.zoo")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")


def get(name: str) -> ModelSpec:
    """The spec registered as ``name``; the error lists the known names."""
    load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY)) or '(none)'}"
        ) from None


def names() -> list[str]:
    """Every registered model name, sorted."""
    load_all()
    return sorted(_REGISTRY)


def iter_specs() -> Iterator[ModelSpec]:
    """Every registered spec, by name."""
    for name in names():
        yield _REGISTRY[name]
