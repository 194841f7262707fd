"""The hard-example loop of seed 001 (claim 9): field disagreements → fine-tune → gated bundle swap.

    biogate palm feedback --log LOG_DIR --labels labels.csv --bundle bundles/palm_liveness

1. Join the device's decision log (:mod:`biogate.models.palm_log`) with the manual labels and keep the
   decisions the model got wrong (hard examples).  A stratified ``holdout`` share of *all*
   labelled decisions is kept out of training to judge the candidate on field data.
2. Fine-tune the current liveness checkpoint on the hard examples mixed with a replay sample of
   the original training split (so the model does not forget the attacks it already knew).
3. Compare old and candidate on the reference validation split (seen fake kinds) and on the
   field hold-out.  The candidate is **refused** if ACER rises by more than ``acer_tolerance``,
   BPCER by more than ``bpcer_tolerance`` or the field hold-out error rises at all; the old
   bundle is then left exactly as it was.
4. Otherwise export the candidate with :func:`biogate.exporters.export` into a sibling folder,
   keep the old bundle as ``<bundle>.prev``, and move the new one into place.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biogate.errors import BundleError, ConfigError
from biogate.exporters.training import train_palm
from biogate.models import palm_log
from biogate.models.palm import log_attenuation

CHECKPOINT = "train/checkpoint.pt"  # training-side state kept inside the bundle folder (unhashed)


@dataclass
class Reference:
    """The fixed validation data the old and the candidate model are both judged on."""

    images: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray
    attack_kinds: tuple[str, ...]


@dataclass
class FeedbackReport:
    """What one round did; ``accepted`` is False when the candidate was refused (or nothing to learn)."""

    accepted: bool
    reason: str
    labelled: int = 0
    hard: int = 0
    holdout: int = 0
    old: dict[str, float] = field(default_factory=dict)
    new: dict[str, float] = field(default_factory=dict)
    bundle: str = ""
    candidate: Any = field(default=None, repr=False)  # the fine-tuned torch module (not serialised)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "candidate"}


def gate(
    old: dict[str, float], new: dict[str, float], acer_tolerance: float = 0.005, bpcer_tolerance: float = 0.01
) -> str:
    """Empty string when ``new`` may replace ``old``, else why not (no silent regressions)."""
    if new["ref_acer"] > old["ref_acer"] + acer_tolerance:
        return f"reference ACER would rise {old['ref_acer']:.4f} -> {new['ref_acer']:.4f}"
    if new["ref_bpcer"] > old["ref_bpcer"] + bpcer_tolerance:
        return f"reference BPCER would rise {old['ref_bpcer']:.4f} -> {new['ref_bpcer']:.4f}"
    if "field_error" in new and new["field_error"] > old["field_error"]:
        return f"field hold-out error would rise {old['field_error']:.4f} -> {new['field_error']:.4f}"
    return ""


def judge(
    net: torch.nn.Module,
    ref: Reference,
    field_x: np.ndarray | None,
    field_y: np.ndarray | None,
    threshold: float = 0.5,
) -> dict[str, float]:
    """The metrics :func:`gate` compares: reference ACER/BPCER/APCER and the field hold-out error."""
    m = train_palm.pad_metrics(
        train_palm.liveness_scores(net, ref.images),
        ref.labels,
        ref.kinds,
        threshold,
        attack_kinds=ref.attack_kinds,
    )
    out = {"ref_acer": m["acer"], "ref_bpcer": m["bpcer"], "ref_apcer_max": m["apcer_max"]}
    if field_x is not None and len(field_x):
        accept = train_palm.liveness_scores(net, field_x) > threshold
        out["field_error"] = float((accept != (field_y == 1)).mean())
    return out


def fine_tune_round(
    init: torch.nn.Module,
    hard_x: np.ndarray,
    hard_y: np.ndarray,
    replay_x: np.ndarray,
    replay_y: np.ndarray,
    iters: int = 150,
    lr: float = 5e-4,
    hard_share: float = 0.3,
    seed: int = 0,
) -> torch.nn.Module:
    """Continue training a copy of ``init`` on hard examples (``hard_share`` of each batch) plus replay."""
    import copy

    net = copy.deepcopy(init)
    x = np.concatenate([hard_x, replay_x]).astype(np.float32)
    y = np.concatenate([hard_y, replay_y]).astype(np.int64)
    w = np.concatenate(
        [
            np.full(len(hard_y), hard_share / max(len(hard_y), 1)),
            np.full(len(replay_y), (1 - hard_share) / max(len(replay_y), 1)),
        ]
    )
    return train_palm.train_liveness(
        x, y, iters=iters, lr=lr, init=net, seed=seed, sample_weights=w, log_every=0
    )


def _field_images(
    log_dir: Path, decisions: list[palm_log.LabelledDecision], use_sr: bool, sr_net: torch.nn.Module | None
) -> np.ndarray:
    """The image each logged decision was judged on: the logged SR image, or SR/normalise the raw one."""
    out = []
    for d in decisions:
        if use_sr and d.entry.get("sr"):
            out.append(palm_log.load_image(log_dir, d.entry, "sr"))
            continue
        a = log_attenuation(palm_log.load_image(log_dir, d.entry, "raw"))
        if use_sr:
            if sr_net is None:
                raise ConfigError(f"decision {d.entry['id']} has no SR image and no SR model was given")
            a = train_palm.sr_apply(sr_net, a[None])[0]
        out.append(a)
    return np.stack(out).astype(np.float32)


def split_holdout(decisions: list[palm_log.LabelledDecision], share: float, seed: int = 0):
    """Stratified by label: (train part, hold-out part); the hold-out never trains."""
    rng = np.random.default_rng(seed)
    keep, hold = [], []
    for label in (0, 1):
        group = [d for d in decisions if d.label == label]
        order = rng.permutation(len(group))
        n_hold = round(share * len(group))
        hold += [group[i] for i in order[:n_hold]]
        keep += [group[i] for i in order[n_hold:]]
    return keep, hold


def default_reference(use_sr: bool, attack_kinds: tuple[str, ...]) -> Reference:
    from biogate.exporters.zoo.palm_liveness import images

    x, y, kinds = images("val", use_sr)
    return Reference(x, y, kinds, attack_kinds)


def default_replay(use_sr: bool, n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    data = train_palm.load_split("train").without(train_palm.HELD_OUT_KIND)
    pick = np.sort(np.random.default_rng(seed).permutation(len(data))[:n])
    data = data.select(pick)
    x = train_palm.sr_apply(train_palm.load_sr(), data.lr) if use_sr else data.lr
    return x, data.labels


def feedback(
    log_dir: str | Path,
    labels_file: str | Path,
    bundle: str | Path,
    *,
    weights: str | Path | None = None,
    iters: int = 150,
    holdout: float = 0.3,
    acer_tolerance: float = 0.005,
    bpcer_tolerance: float = 0.01,
    reference: Reference | None = None,
    replay: tuple[np.ndarray, np.ndarray] | None = None,
    export_fn: Any = None,
    dry_run: bool = False,
    seed: int = 0,
) -> FeedbackReport:
    """One round of the hard-example loop on a liveness bundle; see the module docstring."""
    log_dir, bundle = Path(log_dir), Path(bundle)
    manifest_path = bundle / "manifest.json"
    if not manifest_path.is_file():
        raise BundleError(f"{bundle}: not a model bundle (no manifest.json)")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("task") != "liveness" or manifest.get("seed") != "001":
        raise BundleError(
            f"{bundle}: feedback needs a seed-001 liveness bundle, got {manifest.get('name')!r}"
        )
    use_sr = int(manifest["inputs"][0]["shape"][-1]) > 64
    threshold = float((manifest.get("thresholds") or {}).get("live", 0.5))
    ck_path = Path(weights) if weights else bundle / CHECKPOINT
    if not ck_path.is_file():
        ck_path = train_palm.WEIGHTS / ("palm_liveness.pt" if use_sr else "palm_liveness_raw.pt")
    old_net = train_palm.load_liveness(ck_path)
    meta = train_palm.checkpoint_meta(ck_path)
    attack_kinds = tuple(meta.get("seen_kinds") or ())

    decisions = palm_log.join_labels(log_dir, palm_log.read_labels(labels_file))
    if not decisions:
        raise ConfigError(f"{labels_file}: no labelled decisions")
    train_part, hold_part = split_holdout(decisions, holdout, seed)
    hard = [d for d in train_part if d.hard]
    report = FeedbackReport(False, "", len(decisions), len(hard), len(hold_part))
    if not hard:
        report.reason = "no disagreements between the model and the labels: nothing to learn"
        return report
    sr_net = train_palm.load_sr() if use_sr else None
    hard_x = _field_images(log_dir, hard, use_sr, sr_net)
    hard_y = np.array([d.label for d in hard], np.int64)
    hold_x = _field_images(log_dir, hold_part, use_sr, sr_net) if hold_part else None
    hold_y = np.array([d.label for d in hold_part], np.int64) if hold_part else None
    ref = reference or default_reference(use_sr, attack_kinds)
    rep_x, rep_y = replay if replay is not None else default_replay(use_sr, seed=seed)

    new_net = fine_tune_round(old_net, hard_x, hard_y, rep_x, rep_y, iters=iters, seed=seed)
    report.candidate = new_net
    report.old = judge(old_net, ref, hold_x, hold_y, threshold)
    report.new = judge(new_net, ref, hold_x, hold_y, threshold)
    why = gate(report.old, report.new, acer_tolerance, bpcer_tolerance)
    if why:
        report.reason = "refused: " + why
        return report
    if dry_run:
        report.accepted, report.reason = True, "candidate passes the gate (dry run: bundle not replaced)"
        return report
    why = _replace_bundle(bundle, manifest, new_net, use_sr, meta, export_fn, report, acer_tolerance)
    if why:
        report.reason = "refused: " + why
        return report
    report.bundle = str(bundle)
    report.accepted, report.reason = True, "candidate passes the gate; bundle replaced (old kept as .prev)"
    return report


def _bundle_metric(manifest: dict[str, Any]) -> float | None:
    """The exporter's own FP32 evaluation (ACER on split ``test``) recorded in a manifest, if any."""
    value = ((manifest.get("metrics") or {}).get("fp32") or {}).get("metric")
    return None if value is None else float(value)


def _replace_bundle(
    bundle: Path,
    manifest: dict[str, Any],
    net: torch.nn.Module,
    use_sr: bool,
    meta: dict[str, Any],
    export_fn: Any,
    report: FeedbackReport,
    acer_tolerance: float,
) -> str:
    """Export the candidate next to ``bundle`` and swap it in; the old bundle becomes ``<bundle>.prev``.

    The exported bundle's own metric (the exporter's evaluation) is compared with the old bundle's
    before the swap; a worse one is deleted and the reason returned (empty string: swapped).
    """
    from biogate.exporters.nets.palm import WithSoftmax
    from biogate.exporters.zoo.palm_liveness import make_spec

    size = int(manifest["inputs"][0]["shape"][-1])
    version = f"{manifest.get('version', '1')}+fb{time.strftime('%Y%m%d%H%M%S')}"
    spec = make_spec(
        manifest["name"],
        use_sr,
        lambda: WithSoftmax(net).eval(),
        size,
        str(manifest.get("description", "")) + f"; fine-tuned on {report.hard} field hard examples",
    )
    spec.version = version
    staging = bundle.parent / f".{bundle.name}.candidate"
    shutil.rmtree(staging, ignore_errors=True)
    if export_fn is None:
        from biogate.exporters import export as export_fn
    built = Path(getattr(export_fn(spec, staging), "root", staging / spec.name))
    old_metric = _bundle_metric(manifest)
    new_metric = _bundle_metric(json.loads((built / "manifest.json").read_text()))
    report.new["bundle_acer"], report.old["bundle_acer"] = new_metric, old_metric
    if old_metric is not None and new_metric is not None and new_metric > old_metric + acer_tolerance:
        shutil.rmtree(staging, ignore_errors=True)
        return f"exported bundle ACER {new_metric:.4f} is worse than the current bundle's {old_metric:.4f}"
    new_meta = dict(meta, feedback=report.to_json(), version=version)
    train_palm.save_checkpoint(net, built / CHECKPOINT, **new_meta)
    prev = bundle.with_name(bundle.name + ".prev")
    shutil.rmtree(prev, ignore_errors=True)
    bundle.rename(prev)
    built.rename(bundle)
    shutil.rmtree(staging, ignore_errors=True)
    return ""
