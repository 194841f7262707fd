"""``biogate export MODEL|--all``: registered models → verified bundles (training side).

Needs the ``train`` extra (torch, onnx); the device SDK never imports it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._args import at_least, folder

log = logging.getLogger(__name__)

NAME = "export"
HELP = "export registered models to verified bundles (ONNX, parity, INT8, TensorRT)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="registered model name (see --list)")
    parser.add_argument("--all", action="store_true", help="export every registered model")
    parser.add_argument("--list", action="store_true", help="list registered models and exit")
    parser.add_argument(
        "--out", default="bundles", metavar="DIR", help="parent directory of the bundles (default: bundles)"
    )
    parser.add_argument("--int8", action="store_true", help="calibrate and gate model.int8.onnx")
    parser.add_argument(
        "--calib-method",
        choices=("minmax", "entropy", "percentile"),
        default=None,
        help="INT8 calibration method (default: the model's own)",
    )
    parser.add_argument("--calib-samples", type=int, default=None, metavar="N", help="calibration samples")
    parser.add_argument("--max-retries", type=int, default=2, help="INT8 retries excluding sensitive nodes")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 17)")
    parser.add_argument(
        "--simplify", action="store_true", help="simplify with onnxslim/onnxsim when installed"
    )
    parser.add_argument(
        "--trt", action="store_true", help="also build TensorRT engines (needs tensorrt + a GPU)"
    )
    parser.add_argument(
        "--signing-key",
        default=None,
        metavar="KEY",
        help="Ed25519 key that signs each manifest (default: $BIOGATE_SIGNING_KEY or this user's "
        "~/.config/biogate/signing/bundle_signing.key, created on first export)",
    )
    parser.add_argument(
        "--trt-precision",
        action="append",
        choices=("fp32", "fp16", "int8"),
        help="engine precision (repeatable)",
    )


def _registry() -> Any:
    try:
        from biogate.exporters import registry
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            f"biogate export needs the training extra: pip install 'biogate[train]' ({exc})"
        ) from None
    return registry


def check_arguments(args: argparse.Namespace) -> None:
    """One ConfigError naming the flag, before any model is built."""
    at_least("--opset", args.opset, 17)
    at_least("--max-retries", args.max_retries, 0)
    if args.calib_samples is not None:
        at_least("--calib-samples", args.calib_samples)
    folder("--out", args.out)


def run(args: argparse.Namespace) -> int:
    registry = _registry()
    if args.list:
        for name in registry.names():
            spec = registry.get(name)
            print(f"{name:28s} {spec.task:22s} seed {spec.seed}")
        return 0
    if bool(args.model) == bool(args.all):
        raise ConfigError(
            "give exactly one of MODEL or --all (registered: " + ", ".join(registry.names()) + ")"
        )
    check_arguments(args)
    names: list[str] = registry.names() if args.all else [registry.get(args.model).name]
    from tqdm import tqdm

    from biogate.exporters import export

    stages = (
        ["build", "onnx", "parity", "evaluate fp32"]
        + (["int8", "latency"] if args.int8 else ["latency"])
        + ["manifest"]
    )
    if args.trt:
        stages.append("tensorrt")
    from biogate.bundle.signing import load_or_create_signing_key

    key = load_or_create_signing_key(args.signing_key)  # before minutes of work: fail fast
    print(f"signing with {key.path} ({key.public.key_id})")
    started = time.perf_counter()
    out = Path(args.out)
    failed: list[str] = []
    for name in names:
        bar = tqdm(total=len(stages), desc=name, unit="stage", leave=True)

        def progress(stage: str, bar: Any = bar) -> None:
            bar.set_postfix_str(stage)
            if bar.n < bar.total:
                bar.update(1)

        t0 = time.perf_counter()
        try:
            bundle = export(
                name,
                out,
                int8=args.int8,
                calib_method=args.calib_method,
                calib_samples=args.calib_samples,
                max_retries=args.max_retries,
                opset=args.opset,
                simplify=args.simplify,
                trt=args.trt,
                trt_precisions=tuple(args.trt_precision or ["fp16"]),
                progress=progress,
                signing_key=key,
            )
        except Exception as exc:  # one model's failure must not stop --all; never a traceback
            bar.close()
            log.debug("export of %s failed", name, exc_info=True)
            failed.append(name)
            print(f"  {name}: FAILED: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        bar.update(bar.total - bar.n)
        bar.close()
        print(_summary(bundle) + f", {time.perf_counter() - t0:.1f} s")
    done = len(names) - len(failed)
    print(f"exported {done}/{len(names)} model(s) to {out}/ in {time.perf_counter() - started:.1f} s")
    if failed:
        print(f"failed: {', '.join(failed)} (rerun one with -vv for the traceback)", file=sys.stderr)
        return 1
    return 0


def _summary(bundle: Any) -> str:
    m = bundle.manifest
    metrics = m.get("metrics", {})
    fp32 = metrics.get("fp32", {}).get("metric")
    parts = [f"{bundle.name}: {metrics.get('metric')} fp32={fp32:.4g}" if fp32 is not None else bundle.name]
    parts.append(f"parity rel={metrics.get('parity', {}).get('max_rel', float('nan')):.2g}")
    int8 = m.get("int8", {})
    if int8.get("available"):
        parts.append(f"int8[trt]={int8['metric_int8']:.4g} ({'fit' if int8['fit'] else 'UNFIT'})")
        cpu = int8.get("cpu") or {}
        if cpu.get("file", "model.int8.onnx") != "model.int8.onnx":
            parts.append(f"int8[cpu]={cpu['metric_int8']:.4g} ({'fit' if cpu['fit'] else 'UNFIT'})")
    lat = metrics.get("latency_ms", {})
    if lat:
        parts.append("cpu " + " ".join(f"{k[4:]}={v:.3g}ms" for k, v in lat.items() if k.startswith("cpu_")))
    parts.append(f"auto cpu={m.get('recommended_precision', {}).get('cpu')}")
    return "  " + ", ".join(parts)
