"""From ``biogate train`` arguments to a run: validate, then train here or start torchrun workers.

``--nproc N`` (N > 1) re-runs the same command as N local workers through torchrun
(``python -m torch.distributed.run --standalone``), each executing
``python -m biogate.exporters.training`` with the same arguments. Everything a user can get wrong
is checked here first, in one process, so a mistake is one line and not N tracebacks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from biogate.errors import ConfigError

from .plan import RunOptions, prepare

#: argparse dest → command-line flag, for the options a worker must receive unchanged.
_VALUE_FLAGS = {
    "data": "--data",
    "out": "--out",
    "steps": "--steps",
    "epochs": "--epochs",
    "batch": "--batch",
    "lr": "--lr",
    "seed": "--seed",
    "fold": "--fold",
    "folds": "--folds",
    "device": "--device",
    "checkpoint_every": "--checkpoint-every",
    "log_every": "--log-every",
    "workers": "--workers",
    "threads": "--threads",
}
_SWITCHES = {"resume": "--resume", "no_amp": "--no-amp", "int8": "--int8", "no_latency": "--no-latency"}
_SWITCHES.update(no_progress="--no-progress", no_export="--no-export")


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """The :class:`~.RunOptions` of parsed ``biogate train`` arguments."""
    if not args.model:
        raise ConfigError("give the MODEL to train (biogate train --help lists them)")
    if not args.data:
        raise ConfigError("give --data KIND:DIR (biogate train --help lists the layouts)")
    if not args.out:
        raise ConfigError("give --out DIR (where checkpoints, metrics and the bundle go)")
    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = value.strip()
    for name, value in (("--steps", args.steps), ("--checkpoint-every", args.checkpoint_every)):
        if value is not None and value < (0 if name == "--steps" else 1):
            raise ConfigError(f"{name} {value}: must be positive")
    if args.epochs is not None and args.epochs <= 0:
        raise ConfigError(f"--epochs {args.epochs}: must be positive")
    return RunOptions(
        model=args.model,
        data=args.data,
        out=Path(args.out),
        steps=args.steps,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        fold=args.fold,
        folds=args.folds,
        resume=args.resume,
        device=args.device,
        amp=not args.no_amp,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        workers=args.workers,
        evals=list(args.eval or []),
        overrides=overrides,
        int8=args.int8,
        latency=not args.no_latency,
        export=not args.no_export,
        progress=not args.no_progress,
    )


def worker_argv(args: argparse.Namespace) -> list[str]:
    """The arguments each torchrun worker gets: the same command, without ``--nproc``."""
    argv = [args.model]
    for dest, flag in _VALUE_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            argv += [flag, str(value)]
    for dest, flag in _SWITCHES.items():
        if getattr(args, dest, False):
            argv.append(flag)
    for spec in args.eval or []:
        argv += ["--eval", spec]
    for item in args.set or []:
        argv += ["--set", item]
    return argv


def torchrun_command(args: argparse.Namespace) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N -m biogate.exporters.training``."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes=1",
        f"--nproc-per-node={args.nproc}",
        "-m",
        "biogate.exporters.training",
        *worker_argv(args),
    ]


def main(args: argparse.Namespace) -> int:
    """Run ``biogate train`` (validated first; N workers through torchrun when ``--nproc`` > 1)."""
    options = options_from_args(args)
    if args.nproc < 1:
        raise ConfigError(f"--nproc {args.nproc}: must be at least 1")
    if args.nproc > 1 and not under_torchrun():
        # the launcher never imports torch (each worker does): one clear error here, not one per worker
        prepared = prepare(options)
        batch = prepared.config.batch
        if batch % args.nproc:
            raise ConfigError(
                f"--batch {batch} is not divisible by --nproc {args.nproc} (the batch is global: each "
                "process takes batch / nproc)"
            )
        print(f"starting {args.nproc} processes: {' '.join(torchrun_command(args)[1:])}", flush=True)
        code = subprocess.call(torchrun_command(args))
        if code:
            raise ConfigError(
                f"{args.nproc} training processes ended with exit code {code}; see {options.out}/train.log"
            )
        return 0
    import torch

    from . import harness

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and args.nproc > max(1, torch.cuda.device_count()):
        raise ConfigError(f"--nproc {args.nproc}: only {torch.cuda.device_count()} CUDA device(s) here")
    bundle = harness.train(options)
    return 0 if bundle is not None or under_torchrun() else 1


def under_torchrun() -> bool:
    """True inside a worker that torchrun started (it sets RANK, WORLD_SIZE and LOCAL_RANK)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
