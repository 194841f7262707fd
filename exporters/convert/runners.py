"""``infer(inputs) -> outputs`` callables over numpy dicts for PyTorch and ONNX Runtime.

These are what a model's ``evaluate`` and the parity check run through, so FP32 PyTorch,
FP32 ONNX and INT8 ONNX are measured by exactly the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.registry import InferFn, ModelSpec


def torch_infer(spec: ModelSpec, module: Any) -> InferFn:
    """Run ``module`` (eval mode, no grad) with the spec's input order and output names."""
    import torch

    in_names = [t.name for t in spec.inputs]
    out_names = [t.name for t in spec.outputs]

    def infer(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            result = module(*(torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in in_names))
        if isinstance(result, dict):
            return {n: result[n].detach().numpy() for n in out_names}
        if not isinstance(result, (tuple, list)):
            result = (result,)
        return {n: r.detach().numpy() for n, r in zip(out_names, result)}

    return infer


def ort_session(path: Path, threads: int = 1) -> Any:
    """A CPU ``InferenceSession`` with full graph optimisation and ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_infer(path: Path, threads: int = 1) -> InferFn:
    """ONNX Runtime CPU forward pass of the model at ``path``."""
    session = ort_session(path, threads)
    out_names = [o.name for o in session.get_outputs()]
    in_names = {i.name for i in session.get_inputs()}

    def infer(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: np.ascontiguousarray(v) for k, v in inputs.items() if k in in_names}
        return dict(zip(out_names, session.run(out_names, feed)))

    return infer
