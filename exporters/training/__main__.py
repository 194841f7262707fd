"""``python -m biogate.exporters.training MODEL --data SPEC --out DIR ...``: the entry torchrun runs.

The same arguments as ``biogate train`` (one parser, :mod:`biogate.cli.cmd_train`); use it to
launch workers yourself, e.g. across nodes (docs/training.md)::

    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint head:29400 \\
        -m biogate.exporters.training face_liveness --data folders:/data/faces --out /shared/run1 \\
        --device cuda
"""

from __future__ import annotations

import argparse
import sys

from biogate.cli import cmd_train
from biogate.errors import BiogateError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m biogate.exporters.training", description=cmd_train.HELP)
    cmd_train.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_train.run(args)
    except BiogateError as exc:
        print(f"biogate train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
