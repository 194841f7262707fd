"""``biogate train MODEL --data SPEC --out DIR``: train a model on your own data, export a verified bundle.

Training side: needs the ``train`` extra (torch), imported only when the command runs. ``--help``
lists every trainable model with the ``--data`` layouts it accepts, without importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

from ..errors import ConfigError

NAME = "train"
HELP = "train a model on your data (1 or N processes through torchrun) and export a verified bundle"
#: Placeholder epilog, replaced by the trainer catalogue only when the help is printed.
_CATALOGUE = "\x00catalogue"


def _catalogue() -> str:
    try:
        trainers = importlib.import_module("biogate.exporters.training.trainers")
        layouts = importlib.import_module("biogate.exporters.data.layouts")
        specs = trainers.all_trainers()
    except ImportError as exc:  # pragma: no cover - depends on the install
        return f"(trainable models not listed: {exc}; pip install 'biogate[train]')"
    lines: list[str] = ["models (MODEL: --data layouts; --eval layouts):"]
    for spec in specs:
        evals = f"; --eval {', '.join(spec.eval_layouts)}" if spec.eval_layouts else ""
        lines.append(f"  {spec.name:24s} {', '.join(spec.layouts)}{evals}")
        lines.append(f"  {'':24s} {spec.summary}")
    lines.append("")
    lines.append("layouts (--data KIND:DIR; builtin ones take no folder):")
    for kind, summary in layouts.describe():
        lines.append(f"  {kind:13s} {summary}")
    lines.append("")
    lines.append("Model options (--set KEY=VALUE): biogate train MODEL --options.")
    lines.append(
        "Multi-node: torchrun ... -m biogate.exporters.training MODEL --data ... (docs/training.md)."
    )
    return "\n".join(lines)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def add_text(self, text: str | None) -> None:
        super().add_text(_catalogue() if text == _CATALOGUE else text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _HelpFormatter
    parser.epilog = _CATALOGUE
    parser.add_argument("model", nargs="?", metavar="MODEL", help="what to train (listed below)")
    parser.add_argument("--data", metavar="SPEC", help="training data, KIND:DIR (layouts below)")
    parser.add_argument(
        "--out", metavar="DIR", help="run folder: checkpoints, metrics.json, curves.png, bundle/"
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=float, metavar="N", help="passes over the training identities' data")
    budget.add_argument("--steps", type=int, metavar="N", help="optimiser steps (default: the model's own)")
    parser.add_argument("--batch", type=int, metavar="N", help="global batch (split over the processes)")
    parser.add_argument("--lr", type=float, metavar="X", help="learning rate (default: the model's own)")
    parser.add_argument("--nproc", type=int, default=1, metavar="N", help="local processes, through torchrun")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="gloo on cpu, NCCL on cuda")
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on cuda (fp32 throughout)")
    parser.add_argument("--seed", type=int, default=0, help="identity split, weight init and data order")
    parser.add_argument("--fold", type=int, default=0, help="identity fold held out for testing")
    parser.add_argument("--folds", type=int, default=5, help="identity folds (test = fold, val = fold + 1)")
    parser.add_argument(
        "--eval",
        action="append",
        metavar="SPEC",
        help="also report on this layout, all held out (repeatable)",
    )
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model option (see --options)")
    parser.add_argument("--options", action="store_true", help="list MODEL's --set options and exit")
    parser.add_argument(
        "--checkpoint-every", type=int, default=200, metavar="N", help="steps between checkpoints"
    )
    parser.add_argument("--log-every", type=int, default=10, metavar="N", help="steps between logged losses")
    parser.add_argument("--workers", type=int, default=0, metavar="N", help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, default=0, metavar="N", help="torch CPU threads (0: torch's)")
    parser.add_argument("--int8", action="store_true", help="also calibrate and gate an INT8 model")
    parser.add_argument("--no-latency", action="store_true", help="skip the bundle's CPU latency measurement")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--no-export", action="store_true", help="evaluate but export no bundle (cross-validation folds)"
    )


def _training() -> object:
    try:
        if importlib.util.find_spec("torch") is None:  # the launcher itself never imports torch
            raise ImportError("torch is not installed")
        return importlib.import_module("biogate.exporters.training.launch")
    except ImportError as exc:
        raise ConfigError(
            f"biogate train needs the training extra: pip install 'biogate[train]' ({exc})"
        ) from None


def run(args: argparse.Namespace) -> int:
    if args.options:
        if not args.model:
            raise ConfigError("--options needs the MODEL whose options to list")
        trainers = importlib.import_module("biogate.exporters.training.trainers")
        task = importlib.import_module("biogate.exporters.training.task")
        spec = trainers.get(args.model)
        print(f"{spec.name} options (--set KEY=VALUE): {task.config_help(spec.load('config'))}")
        return 0
    return int(_training().main(args))  # type: ignore[attr-defined]
