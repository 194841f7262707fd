"""The end of a run (rank 0): held-out evaluation, the shipped model on the same data, export, report.

The bundle is exported by :func:`biogate.exporters.export` like every other bundle (ONNX, parity,
FP32 metric on the same held-out data, optional INT8 gate, manifest, verification), its manifest
carrying a ``training`` section, then moved to ``OUT/bundle`` and opened again through the device
side's verifying reader.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from biogate.bundle import open_bundle
from biogate.exporters.convert.runners import torch_infer

from . import report
from .task import Phase

BUNDLE = "bundle"


def _safe(fn: Any, what: str, say: Any) -> dict[str, Any]:
    try:
        return {k: v for k, v in fn().items()}
    except Exception as exc:  # the shipped weights may be absent or of another input size
        say(f"{what}: not evaluated ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        return {"error": f"{type(exc).__name__}: {exc}"}


def finish_run(run: Any, phase: Phase) -> Path:
    """Evaluate, compare, export and verify; returns the bundle folder ``OUT/bundle`` (``OUT``: no export)."""
    with torch.no_grad():
        return _finish(run, phase)


def _finish(run: Any, phase: Phase) -> Path:
    task, options, prepared, out = run.task, run.options, run.prepared, run.out
    for m in phase.modules.values():
        m.cpu().eval()
    for m in phase.frozen.values():
        m.cpu().eval()
    run.say("evaluating on the held-out identities")
    task.finish(phase)
    module = task.module().eval()
    probe = task.export_spec({})
    infer = torch_infer(probe, module)
    held_out = _safe(lambda: task.evaluate(infer), "held-out", run.say)

    def shipped_model() -> tuple[Any, Any]:
        found = task.shipped()
        if found is None:
            raise LookupError("no shipped model")
        spec, net = found
        return spec, torch_infer(spec, net.eval())

    box: list[Any] = []
    shipped = _safe(lambda: task.evaluate_shipped(*_first(box, shipped_model)), "shipped model", run.say)
    extras: dict[str, Any] = {}
    for data in prepared.evals:
        run.say(f"evaluating on {data.spec}")
        mine = task.evaluate_extra(data, infer, out)

        def theirs(d: Any = data) -> dict[str, Any]:
            spec, shipped_infer = _first(box, shipped_model)
            return task.evaluate_extra(d, shipped_infer, None, spec)

        extras[data.spec] = {
            "this_run": mine,
            "shipped": _safe(theirs, f"shipped model on {data.spec}", run.say),
        }
    training = _plain(
        {
            "trainer": prepared.spec.name,
            "data": prepared.data.summary(),
            "split": {
                "by": "identity",
                "fold": options.fold,
                "folds": options.folds,
                **prepared.split.summary(),
            },
            "evaluations": [e.summary() for e in prepared.evals],
            "world_size": run.ctx.world_size,
            "device": run.ctx.device.type,
            "mixed_precision": run.amp,
            "steps": run.global_step,
            "phases": [r for r in _phase_steps(run.history)],
            "global_batch": prepared.config.batch,
            "seed": options.seed,
            "config": asdict(prepared.config),
            "held_out": held_out,
            "shipped_held_out": shipped,
            "extra_evaluations": extras,
            "seconds": round(time.time() - run.started, 1),
            "versions": {"torch": torch.__version__},
            "command": " ".join(sys.argv),
        }
    )
    report.write_json(
        out / "metrics.json",
        {"model": prepared.spec.name, "history": run.history, **{k: training[k] for k in _REPORTED}},
    )
    if run.history:
        report.draw_curves(out / "curves.png", run.history, f"biogate train {prepared.spec.name}")
    run.say(report.comparison(held_out, shipped, probe.metric))
    if not options.export:
        run.say(f"no bundle (--no-export); metrics: {out / 'metrics.json'}")
        return out
    bundle = _export(task.export_spec(training), out, options, run.say)
    task.after_export(bundle)
    run.say(f"bundle: {bundle} (verified); metrics: {out / 'metrics.json'}; curves: {out / 'curves.png'}")
    return bundle


_REPORTED = (
    "data",
    "split",
    "world_size",
    "steps",
    "seed",
    "held_out",
    "shipped_held_out",
    "extra_evaluations",
)


def _first(box: list[Any], make: Any) -> Any:
    """``make()`` once, cached in ``box`` (the shipped model is built at most once per run)."""
    if not box:
        box.append(make())
    return box[0]


def _phase_steps(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last: dict[str, int] = {}
    for row in history:
        last[row["phase"]] = int(row["phase_step"])
    return [{"phase": k, "steps": v} for k, v in last.items()]


def _plain(data: Any) -> Any:
    """JSON-clean copy (numpy scalars, tuples, NaN kept as JSON allows)."""
    return json.loads(json.dumps(data, default=report._plain))


def _export(spec: Any, out: Path, options: Any, say: Any) -> Path:
    from biogate.exporters import export

    staging = out / ".export"
    shutil.rmtree(staging, ignore_errors=True)
    say(f"exporting {spec.name}")
    built = export(
        spec,
        staging,
        int8=options.int8,
        measure_latency=options.latency,
        progress=lambda stage: say(f"  export: {stage}"),
    )
    final = out / BUNDLE
    if final.exists():
        shutil.rmtree(final)
    Path(built.root).rename(final)
    shutil.rmtree(staging, ignore_errors=True)
    return Path(open_bundle(final).root)
