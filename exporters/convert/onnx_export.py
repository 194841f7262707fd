"""PyTorch → ONNX: opset ≥ 17, dynamic batch (and spatial size where allowed), checked.

The TorchScript exporter is used first (fast, mature ``dynamic_axes``); where a future torch
has removed it, the torch.export-based exporter takes over with the same dynamic axes.
Every exported file passes ``onnx.checker`` (full check) and strict shape inference.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from biogate.errors import ConfigError, EngineError
from biogate.exporters.registry import ModelSpec

log = logging.getLogger(__name__)

MIN_OPSET = 17
DEFAULT_OPSET = 17


def example_inputs(spec: ModelSpec, batch: int = 2) -> dict[str, np.ndarray]:
    """One real calibration sample per input, stacked/cut to ``batch`` (used to trace)."""
    for sample in spec.calibration_data(batch):
        out = {}
        for t in spec.inputs:
            if t.name not in sample:
                raise ConfigError(f"model {spec.name}: calibration sample lacks input {t.name!r}")
            arr = np.asarray(sample[t.name])
            reps = -(-batch // arr.shape[0])
            out[t.name] = np.concatenate([arr] * reps)[:batch]
        return out
    raise ConfigError(f"model {spec.name}: calibration_data() yielded no sample")


def _dynamic_axes(spec: ModelSpec) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {}
    for t in list(spec.inputs) + list(spec.outputs):
        named = {0: "batch"}
        for i, dim in enumerate(t.shape[1:], start=1):
            if dim == -1 or (spec.dynamic_spatial and t.layout.upper().startswith("NC") and i >= 2):
                named[i] = f"{t.name}_d{i}"
        axes[t.name] = named
    return axes


def to_onnx(spec: ModelSpec, module: Any, path: Path, opset: int = DEFAULT_OPSET) -> Path:
    """Export ``module`` (the spec's trained net, eval mode) to ``path`` and check it."""
    import onnx
    import torch

    if opset < MIN_OPSET:
        raise ConfigError(f"opset {opset} is too old; biogate exports opset >= {MIN_OPSET}")
    sample = example_inputs(spec)
    args = tuple(torch.from_numpy(sample[t.name]) for t in spec.inputs)
    in_names = [t.name for t in spec.inputs]
    out_names = [t.name for t in spec.outputs]
    axes = _dynamic_axes(spec)
    path = Path(path)
    module = module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # Tracing turns shape checks in forward() into constants, and says so for each one; the
        # exporter relies on exactly that (shapes are fixed or declared dynamic above) and the
        # parity check that follows catches a trace that does not generalise.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            torch.onnx.export(
                module,
                args,
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=in_names,
                output_names=out_names,
                dynamic_axes=axes,
                do_constant_folding=True,
            )
        except (TypeError, RuntimeError, NotImplementedError) as exc:  # exporter removed or failed
            log.info("TorchScript exporter failed (%s); trying torch.export", exc)
            _export_dynamo(module, args, path, opset, in_names, out_names, axes)
    model = onnx.load(str(path))
    if not any(o.domain in ("", "ai.onnx") and o.version >= MIN_OPSET for o in model.opset_import):
        raise EngineError(f"{path}: exported opset is below {MIN_OPSET}")
    try:
        onnx.checker.check_model(model, full_check=True)
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:  # onnx raises several unrelated types here
        raise EngineError(f"{path}: exported graph fails the ONNX checker: {exc}") from exc
    onnx.save(model, str(path))
    return path


def _export_dynamo(module, args, path, opset, in_names, out_names, axes) -> None:
    import torch

    dims = {}
    for name in in_names:
        dims[name] = {i: torch.export.Dim.AUTO for i in axes[name]}
    program = torch.onnx.export(
        module,
        args,
        None,
        dynamo=True,
        opset_version=max(opset, 18),
        input_names=in_names,
        output_names=out_names,
        dynamic_shapes=dims,
        external_data=False,
    )
    program.save(str(path), external_data=False)


def fold_initializer_identities(path: Path) -> int:
    """Replace ``Identity(initializer)`` nodes by initializers of their own; returns how many.

    The TorchScript exporter shares equal parameters through Identity nodes; ONNX Runtime's
    QDQ fusion needs a constant bias on each Conv and otherwise leaves that Conv in float.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    keep, folded = [], 0
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in inits and node.output[0] not in outputs:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
            folded += 1
        else:
            keep.append(node)
    if folded:
        del graph.node[:]
        graph.node.extend(keep)
        used = {i for n in graph.node for i in n.input} | outputs
        for init in [i for i in graph.initializer if i.name not in used]:
            graph.initializer.remove(init)
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    return folded


def simplify(path: Path) -> bool:
    """Constant-fold and clean the graph in place with ``onnxslim`` or ``onnxsim`` if installed."""
    import onnx

    for name in ("onnxslim", "onnxsim"):
        try:
            lib = __import__(name)
        except ImportError:
            continue
        model = onnx.load(str(path))
        if name == "onnxslim":
            model = lib.slim(model)
        else:
            model, ok = lib.simplify(model)
            if not ok:
                return False
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
        return True
    log.info("no ONNX simplifier installed (pip install onnxslim); graph left as exported")
    return False


def opset_of(path: Path) -> int:
    """The default-domain opset of an ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
