"""torch.distributed for the training harness: one process per device, started by torchrun.

torchrun (``python -m torch.distributed.run``) sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init` reads them and joins the process group — gloo on
CPU, NCCL on CUDA. A plain ``python`` process (no such variables) is a world of one and never
creates a group, so single-process training has no distributed overhead at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from biogate.errors import ConfigError


@dataclass(frozen=True)
class Context:
    """Where this process stands in the run: rank, world size, its device and the backend in use."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, writes checkpoints and exports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init(device: str = "cpu", timeout_s: float = 1800.0) -> Context:
    """Join the process group torchrun prepared (if any) and pick this process's device."""
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device!r}: choose cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available to this torch build")
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    if device == "cuda":
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    backend = None
    if world > 1:
        backend = "nccl" if device == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return Context(rank, world, local, dev, backend)


def shutdown() -> None:
    """Leave the process group (every rank calls it once, after the last collective)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()


def wrap(module: nn.Module, ctx: Context, find_unused: bool = False, sync_bn: bool = True) -> nn.Module:
    """``module`` on the device, in DistributedDataParallel when the world is bigger than one.

    Gradients are averaged over ranks, so with each rank's loss a mean over its share of the global
    batch, one step equals a single-process step on the whole global batch. BatchNorm statistics
    are per rank on CPU (SyncBatchNorm needs a GPU); on CUDA they are synchronised (``sync_bn``).
    """
    module = module.to(ctx.device)
    if not ctx.distributed or not any(p.requires_grad for p in module.parameters()):
        return module
    if sync_bn and ctx.device.type == "cuda":
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)


class Forward(nn.Module):
    """Route a training-time computation (``forward_train``, heads plus loss, ...) through ``forward``.

    DDP synchronises gradients only for computation that went through the wrapper's ``forward``,
    so a task whose step calls another method, or several, wraps the module in this first.
    ``how`` is a method name of ``module`` or a function ``how(module, *args, **kwargs)``.
    """

    def __init__(self, module: nn.Module, how: str | Any) -> None:
        super().__init__()
        self.module = module
        self._how = how

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self._how, str):
            return getattr(self.module, self._how)(*args, **kwargs)
        return self._how(self.module, *args, **kwargs)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (checkpoints and export use the bare module)."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def mean_over_ranks(values: dict[str, float], ctx: Context) -> dict[str, float]:
    """Each value averaged over every rank (for logging; one small all-reduce)."""
    if not ctx.distributed or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return {k: float(v) / ctx.world_size for k, v in zip(keys, t.tolist())}


def gather(obj: Any, ctx: Context) -> list[Any]:
    """``obj`` of every rank, in rank order (pickled; for RNG states and other small objects)."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any, ctx: Context) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
