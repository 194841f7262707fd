"""The training harness behind ``biogate train``: one loop for every model, 1 or N processes.

Per run: parse and split the data by identity, build the task, then for each phase build modules
and optimisers (same seed on every rank), wrap them in DDP, and step through the global batches a
:class:`~torch.utils.data.DistributedSampler` deals (rank ``r`` takes every ``world``-th index of
one seeded permutation, so the union of the ranks' batches at step ``k`` is the single-process
batch ``k``). Rank 0 logs, shows the progress bar and writes atomic checkpoints; ``--resume`` picks
up at the checkpoint's step with the data order, optimiser, scheduler and RNG states it had. At the
end rank 0 evaluates on the held-out identities (the shipped model too, on the same data), writes
``metrics.json`` and ``curves.png``, exports the bundle and verifies it (:mod:`.finish`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler

from biogate.errors import BiogateError, ConfigError

from . import checkpoint, distributed
from .plan import Prepared, RunOptions, prepare
from .task import Budget, Env, Phase, Step, Task

log = logging.getLogger(__name__)


class _Run:
    """The state of one process's run (built once per process)."""

    def __init__(self, options: RunOptions, prepared: Prepared, ctx: distributed.Context) -> None:
        self.options, self.prepared, self.ctx = options, prepared, ctx
        self.out = Path(options.out)
        self.ckpt_path = self.out / "checkpoints" / checkpoint.LAST
        self.history: list[dict[str, Any]] = []
        self.global_step = 0
        self.started = time.time()
        self.amp = options.amp and ctx.device.type == "cuda"
        self.scaler = torch.amp.GradScaler(ctx.device.type, enabled=self.amp)
        self.step = Step(ctx.device, self.scaler, self.amp)
        env = Env(
            data=prepared.data,
            split=prepared.split,
            evals=prepared.evals,
            config=prepared.config,
            seed=options.seed,
            out=self.out,
            device=ctx.device,
            world_size=ctx.world_size,
            rank=ctx.rank,
            log=self.say,
            once=self.once,
        )
        task_cls = prepared.spec.load("task")
        self.task: Task = task_cls(env)
        self.task.spec = prepared.spec

    def once(self, fn: Any) -> Any:
        """``fn()`` on rank 0, then (after a barrier) on the others, which find what rank 0 cached."""
        if self.ctx.is_main:
            result = fn()
            distributed.barrier(self.ctx)
            return result
        distributed.barrier(self.ctx)
        return fn()

    def say(self, text: str) -> None:
        if self.ctx.is_main:
            print(text, flush=True)
            with (self.out / "train.log").open("a") as fh:
                fh.write(text + "\n")

    # -- checkpoints ---------------------------------------------------------------------------
    def save(self, k: int, phase: Phase, phase_step: int) -> None:
        rngs = distributed.gather(checkpoint.rng_state(), self.ctx)  # collective: every rank calls
        if not self.ctx.is_main:
            return
        blob = {
            "format": checkpoint.FORMAT,
            "fingerprint": self.options.fingerprint(),
            "world_size": self.ctx.world_size,
            "phase": k,
            "phase_name": phase.name,
            "phase_step": phase_step,
            "global_step": self.global_step,
            "modules": {n: distributed.unwrap(m).state_dict() for n, m in phase.modules.items()},
            "optimizers": {n: o.state_dict() for n, o in phase.optimizers.items()},
            "schedulers": {n: s.state_dict() for n, s in phase.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "task": self.task.state_dict(),
            "rng": rngs,
            "history": self.history,
            "seconds": time.time() - self.started,
        }
        checkpoint.save_atomic(blob, self.ckpt_path)
        self.say(
            f"checkpoint: step {self.global_step} ({phase.name} {phase_step}/{phase.steps}) {self.ckpt_path}"
        )

    def load_resume(self) -> dict[str, Any] | None:
        if not self.options.resume:
            if self.ckpt_path.exists():
                raise ConfigError(
                    f"{self.out} already holds a training run ({self.ckpt_path}); pass --resume to continue "
                    "it or choose another --out"
                )
            return None
        if not self.ckpt_path.is_file():
            raise ConfigError(f"--resume: no checkpoint at {self.ckpt_path} (start without --resume)")
        blob = checkpoint.load(self.ckpt_path)
        was, now = blob["fingerprint"], self.options.fingerprint()
        for key in now:
            if was.get(key) != now[key]:
                raise ConfigError(
                    f"--resume: the run in {self.out} was started with {key}={was.get(key)!r}, "
                    f"this command gives {now[key]!r}; resume with the same options"
                )
        self.history = list(blob["history"])
        self.global_step = int(blob["global_step"])
        self.started -= float(blob.get("seconds", 0.0))
        self.task.load_state_dict(blob["task"])
        return blob

    # -- the loop ------------------------------------------------------------------------------
    def build(self, k: int, name: str, weight: float) -> Phase:
        torch.manual_seed(self.options.seed + 7919 * k)  # identical initial weights on every rank
        steps = self.options.steps
        if steps is None and self.options.epochs is None:
            steps = self.prepared.spec.default_steps
        budget = Budget(steps, self.options.epochs, weight)
        phase = self.task.build_phase(name, budget)
        if phase.batch % self.ctx.world_size:
            raise ConfigError(
                f"--batch {phase.batch} is not divisible by the {self.ctx.world_size} processes "
                "(the batch is global: each process takes batch / processes)"
            )
        local = phase.batch // self.ctx.world_size
        modules = [m for net in phase.modules.values() for m in net.modules()]
        if local < 2 and any(isinstance(m, torch.nn.BatchNorm1d) for m in modules):
            raise ConfigError(
                f"--batch {phase.batch} over {self.ctx.world_size} process(es) leaves {local} sample per "
                f"process; {self.prepared.spec.name} has BatchNorm1d layers, which need at least 2"
            )
        if len(phase.dataset) < phase.batch:
            raise ConfigError(
                f"{name}: {len(phase.dataset)} training samples are fewer than one global batch of "
                f"{phase.batch}"
            )
        return phase

    def run_phase(self, k: int, phase: Phase, start: int, blob: dict[str, Any] | None) -> None:
        ctx = self.ctx
        nets = {n: distributed.wrap(m, ctx, phase.find_unused) for n, m in phase.modules.items()}
        for m in phase.frozen.values():
            m.to(ctx.device)
        if blob is not None:
            for n, m in phase.modules.items():
                m.load_state_dict(blob["modules"][n])
            for n, o in phase.optimizers.items():
                o.load_state_dict(blob["optimizers"][n])
            for n, s in phase.schedulers.items():
                s.load_state_dict(blob["schedulers"][n])
            self.scaler.load_state_dict(blob["scaler"])
            states = blob["rng"]
            checkpoint.set_rng_state(states[ctx.rank % len(states)])
        else:
            torch.manual_seed(self.options.seed * 1000 + ctx.rank + 31 * k)
        local = phase.batch // ctx.world_size
        per_epoch = (len(phase.dataset) // ctx.world_size) // local
        self.step.phase_steps = phase.steps
        bar = self._bar(phase, start)
        step = start
        while step < phase.steps:
            epoch, offset = divmod(step, per_epoch)
            sampler = DistributedSampler(
                phase.dataset,
                num_replicas=ctx.world_size,
                rank=ctx.rank,
                shuffle=True,
                seed=self.options.seed + 104729 * k,
                drop_last=True,
            )
            sampler.set_epoch(epoch)
            order = list(sampler)
            batches = [order[i * local : (i + 1) * local] for i in range(offset, per_epoch)]
            phase.dataset.set_epoch(epoch)
            loader = DataLoader(
                phase.dataset,
                batch_sampler=batches[: phase.steps - step],
                num_workers=self.options.workers,
                collate_fn=phase.collate,
            )
            for batch in loader:
                self.step.index, self.step.phase_index = self.global_step, step
                for o in phase.optimizers.values():
                    o.zero_grad(set_to_none=True)
                losses = self.task.train_step(phase, nets, _to(batch, ctx.device), self.step)
                self.scaler.update()
                for s in phase.schedulers.values():
                    s.step()
                step += 1
                self.global_step += 1
                self._log(phase, step, epoch, losses, bar)
                if step % self.options.checkpoint_every == 0 and step < phase.steps:
                    self.save(k, phase, step)
        if bar is not None:
            bar.close()
        self.task.end_phase(phase)
        self.save(k, phase, phase.steps)

    def _bar(self, phase: Phase, start: int) -> Any:
        if not (self.ctx.is_main and self.options.progress):
            return None
        from tqdm import tqdm

        return tqdm(
            total=phase.steps, initial=start, desc=f"{self.prepared.spec.name}/{phase.name}", unit="step"
        )

    def _log(self, phase: Phase, step: int, epoch: int, losses: dict[str, float], bar: Any) -> None:
        if bar is not None:
            bar.update(1)
        if step % self.options.log_every and step != phase.steps:
            return
        mean = distributed.mean_over_ranks(losses, self.ctx)  # collective: every rank logs the same steps
        if not self.ctx.is_main:
            return
        lr = next(iter(phase.optimizers.values())).param_groups[0]["lr"] if phase.optimizers else 0.0
        row = {"step": self.global_step, "phase": phase.name, "phase_step": step, "epoch": epoch, "lr": lr}
        row.update({k: round(float(v), 6) for k, v in mean.items()})
        row["s"] = round(time.time() - self.started, 1)
        self.history.append(row)
        if bar is not None:
            bar.set_postfix({k: f"{v:.4g}" for k, v in mean.items()})
        with (self.out / "train.log").open("a") as fh:
            fh.write(str(row) + "\n")


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(v, device) for v in batch)
    return batch


def train(options: RunOptions, prepared: Prepared | None = None) -> Path | None:
    """Run training in this process (one rank of a torchrun world, or alone); returns the bundle on rank 0."""
    ctx = distributed.init(options.device)
    try:
        return _train(options, prepared, ctx)
    except BiogateError as exc:
        if ctx.is_main and Path(options.out).is_dir():  # torchrun's workers: the parent points here
            with (Path(options.out) / "train.log").open("a") as fh:
                fh.write(f"error: {exc}\n")
        raise


def _train(options: RunOptions, prepared: Prepared | None, ctx: distributed.Context) -> Path | None:
    try:
        prepared = prepared or prepare(options)
        if ctx.is_main:
            Path(options.out).mkdir(parents=True, exist_ok=True)
        distributed.barrier(ctx)
        run = _Run(options, prepared, ctx)
        blob = run.load_resume()
        distributed.barrier(ctx)  # every rank has read the checkpoint before anyone overwrites it
        run.say(_banner(options, prepared, ctx))
        phase: Phase | None = None
        for k, (name, weight) in enumerate(run.task.phases()):
            if blob is not None and k < blob["phase"]:
                continue
            phase = run.build(k, name, weight)
            resume_here = blob is not None and k == blob["phase"]
            start = int(blob["phase_step"]) if resume_here else 0
            if resume_here and start >= phase.steps:
                _load_done(phase, blob)
                continue
            run.run_phase(k, phase, start, blob if resume_here else None)
        distributed.barrier(ctx)
    finally:
        distributed.shutdown()
    if not ctx.is_main or phase is None:
        return None
    from .finish import finish_run

    return finish_run(run, phase)


def _load_done(phase: Phase, blob: dict[str, Any]) -> None:
    """A finished phase on resume: its final weights only (the run was stopped after it)."""
    for n, m in phase.modules.items():
        m.load_state_dict(blob["modules"][n])


def _banner(options: RunOptions, prepared: Prepared, ctx: distributed.Context) -> str:
    s = prepared.split.summary()
    parts = ", ".join(f"{k} {v['images']} images / {v['identities']} identities" for k, v in s.items())
    cfg = ", ".join(f"{k}={v}" for k, v in asdict(prepared.config).items())
    return (
        f"biogate train {prepared.spec.name}: {options.data} ({parts}); {ctx.world_size} process(es) on "
        f"{ctx.device.type}{' (' + ctx.backend + ')' if ctx.backend else ''}; {cfg}"
    )
