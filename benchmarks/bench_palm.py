"""Seed 001 palm X-ray liveness: SR gain, liveness errors with and without SR, one feedback round, latency.

    python benchmarks/bench_palm.py --json palm.json [--plot palm.png] [--quick]

Everything runs on held-out simulated subjects (``biogate.exporters.training.train_palm`` splits):

* **SR** — PSNR/SSIM of ``palm_sr`` vs bicubic against the reference detector (split ``test``).
* **Liveness** — APCER per fake kind, BPCER and ACER = (worst APCER over the kinds seen in
  training + BPCER) / 2 for ``palm_liveness`` (on SR images) and ``palm_liveness_raw`` (raw images).
* **Feedback** — the device chain decides on the ``field`` split (which holds ``resin_bones``, a
  fake kind never trained on), logging every decision; the ground truth is the labelling file;
  one round of :func:`biogate.exporters.training.palm_feedback.feedback` (dry run: no bundle swap) fine-tunes;
  old and new models are compared on ``field_test`` (other subjects, same kinds).
* **Quality** — how often :class:`biogate.models.PalmQuality` passes good live scans and asks for a
  re-scan on blurred, off-centre and under-exposed ones.
* **Latency** — the device chain (quality → SR → liveness) per scan through ONNX Runtime.

Models run through ONNX Runtime: from ``--bundles DIR`` (``DIR/palm_sr``, ``DIR/palm_liveness``,
``DIR/palm_liveness_raw`` via ``biogate.engine.load``) or, by default, exported here from the shipped
weights with ``torch.onnx``.  The feedback round needs torch (``biogate[train]``).
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bar_plot, base_parser, print_table, time_call, write_report

from biogate.exporters.training import train_palm
from biogate.models.palm import PalmLiveness, PalmQuality, PalmScanner, PalmSR
from biogate.models.palm_log import DecisionLog
from biogate.sim import xray as xray_data


class OrtEngine:
    """dict → dict over one ONNX file (CPU), the engine contract."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.session.get_outputs()]

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self.session.run(None, inputs)))


def export_shipped(work: Path) -> dict[str, Any]:
    """ONNX files of the shipped weights (torch.onnx), as engines keyed by bundle name."""
    import torch

    from biogate.exporters.nets.palm import WithSoftmax

    out = {}
    nets = {
        "palm_sr": (train_palm.load_sr(), "lr", "sr", 64),
        "palm_liveness": (WithSoftmax(train_palm.load_liveness()), "image", "prob", 128),
        "palm_liveness_raw": (
            WithSoftmax(train_palm.load_liveness(train_palm.WEIGHTS / "palm_liveness_raw.pt")),
            "image",
            "prob",
            64,
        ),
    }
    for name, (net, inp, outp, size) in nets.items():
        path = work / f"{name}.onnx"
        torch.onnx.export(
            net.eval(),
            (torch.rand(1, 1, size, size),),
            str(path),
            input_names=[inp],
            output_names=[outp],
            dynamo=False,
            opset_version=17,
            dynamic_axes={inp: {0: "n", 2: "h", 3: "w"}},
        )
        out[name] = OrtEngine(path)
    return out


def load_bundles(root: Path) -> dict[str, Any]:
    from biogate import engine

    return {name: engine.load(str(root / name)) for name in ("palm_sr", "palm_liveness", "palm_liveness_raw")}


def run_sr(engine: Any, lr: np.ndarray, batch: int = 16) -> np.ndarray:
    return np.clip(
        np.concatenate(
            [engine({"lr": lr[i : i + batch][:, None]})["sr"][:, 0] for i in range(0, len(lr), batch)]
        ),
        0,
        1,
    )


def scores(engine: Any, x: np.ndarray, batch: int = 32) -> np.ndarray:
    return np.concatenate(
        [engine({"image": x[i : i + batch][:, None]})["prob"][:, 1] for i in range(0, len(x), batch)]
    )


def feedback_round(engines: dict[str, Any], seen: tuple, quick: bool, work: Path) -> dict[str, Any]:
    """Field decisions → log + labels → one dry-run feedback round → old vs new on field_test."""
    from biogate.exporters.training import palm_feedback

    field = train_palm.load_split("field")
    if quick:
        field = field.select(np.arange(len(field)) % 3 == 0)
    log_dir = work / "field-log"
    log = DecisionLog(log_dir, model_version="shipped")
    scanner = PalmScanner(PalmLiveness(engines["palm_liveness"]), PalmSR(engines["palm_sr"]), None, log)
    rows = []
    for raw, label in zip(field.raw, field.labels):
        d = scanner.process(raw)
        rows.append({"id": d.log_id, "label": "live" if label == 1 else "fake"})
    labels = work / "labels.csv"
    with open(labels, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "label"])
        writer.writeheader()
        writer.writerows(rows)
    bundle = work / "palm_liveness"
    bundle.mkdir()
    (bundle / "manifest.json").write_text(
        json.dumps(
            {
                "name": "palm_liveness",
                "task": "liveness",
                "seed": "001",
                "version": "1",
                "inputs": [{"name": "image", "shape": [-1, 1, 128, 128]}],
                "thresholds": {"live": 0.5},
            }
        )
    )
    report = palm_feedback.feedback(log_dir, labels, bundle, dry_run=True, iters=60 if quick else 150)
    test = train_palm.load_split("field_test")
    sr_net = train_palm.load_sr()
    x = train_palm.sr_apply(sr_net, test.lr)
    new_kinds = tuple(k for k in xray_data.FAKE_KINDS if k not in seen)
    out: dict[str, Any] = {
        "accepted": report.accepted,
        "reason": report.reason,
        "hard": report.hard,
        "labelled": report.labelled,
        **{f"gate_old_{k}": v for k, v in report.old.items()},
        **{f"gate_new_{k}": v for k, v in report.new.items()},
    }
    old_net = train_palm.load_liveness()
    for tag, net in (("before", old_net), ("after", report.candidate)):
        if net is None:
            continue
        m = train_palm.pad_metrics(train_palm.liveness_scores(net, x), test.labels, test.kinds, 0.5)
        out[tag] = m
        out[tag]["apcer_new_kinds"] = max(m[f"apcer_{k}"] for k in new_kinds) if new_kinds else 0.0
    return out


def quality_rates(n: int) -> dict[str, float]:
    q = PalmQuality()
    out = {}
    for defect in (None, "blur", "partial", "underexposed"):
        ok = [q(xray_data.simulate("live", 909, i, defect=defect).lr).ok for i in range(n)]
        out["pass_good" if defect is None else f"rescan_{defect}"] = float(
            np.mean(ok) if defect is None else 1 - np.mean(ok)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument(
        "--bundles", type=Path, help="folder with palm_sr/, palm_liveness/, palm_liveness_raw/"
    )
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback round (no torch)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.warmup = min(args.repeat, 10), 2
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass
    work = Path(tempfile.mkdtemp(prefix="bench_palm."))
    engines = load_bundles(args.bundles) if args.bundles else export_shipped(work)
    seen = tuple(train_palm.checkpoint_meta(train_palm.WEIGHTS / "palm_liveness.pt")["seen_kinds"])

    test = train_palm.load_split("test")
    if args.quick:
        test = test.select(np.arange(len(test)) % 3 == 0)
    sr = run_sr(engines["palm_sr"], test.lr)
    m_sr = train_palm.sr_metrics(sr, train_palm.bicubic(test.lr, 2), test.hr)
    with_sr = train_palm.pad_metrics(scores(engines["palm_liveness"], sr), test.labels, test.kinds, 0.5, seen)
    raw = train_palm.pad_metrics(
        scores(engines["palm_liveness_raw"], test.lr), test.labels, test.kinds, 0.5, seen
    )
    results: list[dict[str, Any]] = [{"case": "sr", **m_sr, "samples": len(test)}]
    for name, m in (("liveness_sr", with_sr), ("liveness_raw", raw)):
        results.append({"case": name, **m})

    scanner = PalmScanner(PalmLiveness(engines["palm_liveness"]), PalmSR(engines["palm_sr"]), PalmQuality())
    one = test.raw[0]
    lat_chain = time_call(lambda: scanner.process(one), args.repeat, args.warmup)
    lat_sr = time_call(lambda: engines["palm_sr"]({"lr": test.lr[:1][:, None]}), args.repeat, args.warmup)
    lat_live = time_call(
        lambda: engines["palm_liveness"]({"image": sr[:1][:, None]}), args.repeat, args.warmup
    )
    results.append({"case": "latency_chain", **lat_chain})
    results.append({"case": "latency_sr", **lat_sr})
    results.append({"case": "latency_liveness", **lat_live})
    q = quality_rates(10 if args.quick else 40)
    results.append({"case": "quality", **q})

    summary: dict[str, Any] = {
        "sr_psnr_gain_db": m_sr["psnr_gain_db"],
        "sr_ssim_gain": m_sr["ssim_gain"],
        "acer_with_sr": with_sr["acer"],
        "acer_without_sr": raw["acer"],
        "bpcer_with_sr": with_sr["bpcer"],
        "latency_p50_ms": lat_chain["p50_ms"],
        "quality_pass_good": q["pass_good"],
    }
    if not args.no_feedback:
        fbr = feedback_round(engines, seen, args.quick, work)
        results.append({"case": "feedback", **{k: v for k, v in fbr.items() if not isinstance(v, dict)}})
        for tag in ("before", "after"):
            if tag in fbr:
                results.append({"case": f"field_test_{tag}_feedback", **fbr[tag]})
        summary["feedback_accepted"] = fbr["accepted"]
        summary["acer_before_feedback"] = fbr["before"]["acer"]
        if "after" in fbr:
            summary["acer_after_feedback"] = fbr["after"]["acer"]
            summary["apcer_new_kind_before"] = fbr["before"]["apcer_new_kinds"]
            summary["apcer_new_kind_after"] = fbr["after"]["apcer_new_kinds"]
            summary["bpcer_change_after_feedback"] = fbr["after"]["bpcer"] - fbr["before"]["bpcer"]
    for row in results:
        print(f"\n[{row['case']}]")
        print_table([{k: v for k, v in row.items() if k != "case" and not isinstance(v, dict)}])
    config = {
        "seen_kinds": list(seen),
        "held_out_kinds": [k for k in xray_data.FAKE_KINDS if k not in seen],
        "test_samples": len(test),
        "quick": args.quick,
        "models": "bundles" if args.bundles else "shipped weights",
    }
    write_report(args, "bench_palm", config, results, summary)
    if args.plot:
        labels = [f"APCER {k}" for k in xray_data.FAKE_KINDS] + ["BPCER", "ACER"]
        values = [with_sr.get(f"apcer_{k}", 0.0) for k in xray_data.FAKE_KINDS] + [
            with_sr["bpcer"],
            with_sr["acer"],
        ]
        bar_plot(args.plot, labels, values, "error rate", "palm liveness on SR images (held-out subjects)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
