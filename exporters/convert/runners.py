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


def ort_session(path: Path, threads: int = 1, fuse_qdq: bool = True) -> Any:
    """A CPU ``InferenceSession`` with ``threads`` intra-op threads and full graph optimisation.

    ``fuse_qdq=False`` keeps only the basic optimisations, so a QDQ model runs as
    DequantizeLinear → float op → QuantizeLinear: the exact int8 values of explicit quantization
    without ONNX Runtime's fused integer kernels — which, for signed int8 activations on AVX2 CPUs
    without VNNI, saturate their int16 partial sums (``VPMADDUBSW``) and can wipe a net's output.
    That is how TensorRT's numerics are emulated when its file is gated on a CPU.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if fuse_qdq else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    )
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_infer(path: Path, threads: int = 1, fuse_qdq: bool = True) -> InferFn:
    """ONNX Runtime CPU forward pass of the model at ``path`` (``fuse_qdq``: :func:`ort_session`)."""
    session = ort_session(path, threads, fuse_qdq)
    out_names = [o.name for o in session.get_outputs()]
    in_names = {i.name for i in session.get_inputs()}

    def infer(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: np.ascontiguousarray(v) for k, v in inputs.items() if k in in_names}
        return dict(zip(out_names, session.run(out_names, feed)))

    return infer
