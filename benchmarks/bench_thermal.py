"""Thermal screening accuracy and latency (seed 002) on a held-out generated set.

The set holds people (identities 1000+) and ambient bands (16–18, 21.5–24.5, 28–30 °C) and sensor
units that training never saw. Every frame goes through the device path — Y16 → blackbody
correction → emissivity → face box → canthus estimate + the exported model on ONNX Runtime →
fused estimate → alarm — exactly as ``biogate.models.ThermalFace`` runs on a kiosk.

Rows: temperature error of the fused estimate, the model head and the canthus estimate, each with
and without the in-scene blackbody; thermal-only identity top-1 (1:N, 3 enrolment captures per
person) of the shipped model and of the IR-only ablation (same recipe, RGB weight 0 in every
round); alarm sensitivity/specificity at 37.3 °C; latency per frame.

    nice -n 10 python benchmarks/bench_thermal.py --json out/bench_thermal.json
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bar_plot, base_parser, latency_stats, print_table, write_report

from biogate.frame import Frame
from biogate.models.thermal import ThermalConfig, ThermalFace
from biogate.sim.thermal import ThermalFaceGenerator

WEIGHTS = Path(__file__).resolve().parent.parent / "exporters" / "weights"


def _errors(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    err = np.abs(np.asarray(pred) - np.asarray(truth))
    return {
        "mae_c": float(err.mean()),
        "p95_abs_err_c": float(np.percentile(err, 95)),
        "max_abs_err_c": float(err.max()),
    }


def _alarm_rates(alarm: np.ndarray, core: np.ndarray, threshold: float) -> dict[str, float]:
    fever = core >= threshold
    return {
        "sensitivity": float(alarm[fever].mean()) if fever.any() else float("nan"),
        "specificity": float((~alarm[~fever]).mean()) if (~fever).any() else float("nan"),
        "fever_cases": int(fever.sum()),
    }


def _top1(embs: np.ndarray, ids: np.ndarray, caps: np.ndarray, gallery: int) -> float:
    from biogate.exporters.zoo.thermal_face import identity_top1

    return identity_top1(embs, ids, caps, gallery)


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=30, help="held-out people")
    parser.add_argument("--captures", type=int, default=8, help="captures per person (3 enrol, rest probe)")
    parser.add_argument("--bundle", help="an exported thermal_face bundle (default: export one now)")
    parser.add_argument("--bundle-dir", help="export the bundle here (default: a temporary folder)")
    parser.add_argument(
        "--weights", default=str(WEIGHTS), help="folder with thermal_face*.pt (ablation rows)"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.quick:
        args.identities, args.captures, args.repeat, args.warmup = 10, 5, 10, 2

    from biogate.exporters import export
    from biogate.exporters.training.train_thermal import generate_set, load_export, predict

    if args.bundle:
        bundle_root = Path(args.bundle)
    else:
        out_dir = Path(args.bundle_dir or tempfile.mkdtemp(prefix="bench_thermal_"))
        t0 = time.time()
        bundle_root = export("thermal_face", out_dir, int8=False, measure_latency=False).root
        print(f"exported {bundle_root} ({time.time() - t0:.0f} s)")

    gen = ThermalFaceGenerator(seed=0, split="heldout")
    people = range(1000, 1000 + args.identities)
    with_bb = ThermalFace.from_bundle(  # measured, not deciding: an unfit bundle is measured too
        str(bundle_root), ThermalConfig(), providers="cpu", threads=1, require_fit=False
    )
    no_bb = ThermalFace(
        with_bb.engine,
        ThermalConfig(**{k: getattr(with_bb.config, k) for k in with_bb.config.__dataclass_fields__}),
    )
    cal = with_bb.config
    rec = {
        k: []
        for k in (
            "core",
            "id",
            "cap",
            "fused",
            "model",
            "canthus",
            "fused_nb",
            "model_nb",
            "canthus_nb",
            "alarm",
            "alarm_nb",
        )
    }
    embs, lat, missed = [], [], 0
    for person in people:
        for cap in range(args.captures):
            s = gen.sample(person, cap, with_rgb=False)
            cal.blackbody_roi, cal.blackbody_c = s.blackbody_box, s.blackbody_set_c
            frame = Frame(
                s.frame_ck,
                "y16",
                time.monotonic_ns(),
                seq=cap,
                source="synthetic://thermal",
                meta=dict(s.meta),
            )
            t = time.perf_counter_ns()
            readings = with_bb.measure(frame)
            lat.append((time.perf_counter_ns() - t) / 1e6)
            plain = no_bb.measure(frame)
            if not readings or not plain:
                missed += 1
                continue
            r, p = readings[0], plain[0]
            for key, value in (
                ("core", s.core_c),
                ("id", person),
                ("cap", cap),
                ("fused", r.temperature_c),
                ("model", r.model_c),
                ("canthus", r.canthus_core_c),
                ("fused_nb", p.temperature_c),
                ("model_nb", p.model_c),
                ("canthus_nb", p.canthus_core_c),
                ("alarm", r.alarm is not None),
                ("alarm_nb", p.alarm is not None),
            ):
                rec[key].append(value)
            embs.append(r.embedding)
    a = {k: np.asarray(v) for k, v in rec.items()}
    emb = np.stack(embs)
    top1 = _top1(emb, a["id"], a["cap"], 3)
    results = []
    for name, key in (("fused", "fused"), ("model head", "model"), ("canthus estimate", "canthus")):
        results.append({"case": f"temperature: {name}, blackbody", **_errors(a[key], a["core"])})
        results.append({"case": f"temperature: {name}, no blackbody", **_errors(a[key + "_nb"], a["core"])})
    thr = cal.alarm_c
    results.append({"case": f"alarm at {thr} C, blackbody", **_alarm_rates(a["alarm"], a["core"], thr)})
    results.append({"case": f"alarm at {thr} C, no blackbody", **_alarm_rates(a["alarm_nb"], a["core"], thr)})
    results.append(
        {
            "case": "identity top-1, thermal only (ONNX Runtime)",
            "top1": top1,
            "probes": int((a["cap"] >= 3).sum()),
        }
    )

    # ablation: the same recipe with the RGB weight 0 in every round, on the same held-out crops
    from biogate.exporters.zoo.thermal_face import CACHE

    data = generate_set(0, "heldout", people, range(args.captures), with_rgb=False, workers=1, cache=CACHE)
    for name in ("thermal_face", "thermal_face_ir_only"):
        path = Path(args.weights) / f"{name}.pt"
        if not path.exists():
            results.append({"case": f"ablation {name}", "note": "weights missing"})
            continue
        model, meta = load_export(path)
        e, t = predict(model, data["ir"])
        results.append(
            {
                "case": f"ablation {name}: schedule {meta['schedule']}",
                "top1": _top1(e, data["identity"], data["capture"], 3),
                **_errors(t, data["core"]),
            }
        )
    lat_stats = latency_stats(lat)
    results.append({"case": "latency per frame (ThermalFace.measure, ORT CPU, 1 thread)", **lat_stats})
    print_table(
        results,
        [
            "case",
            "mae_c",
            "p95_abs_err_c",
            "max_abs_err_c",
            "top1",
            "sensitivity",
            "specificity",
            "p50_ms",
            "p99_ms",
        ],
    )
    fused = _errors(a["fused"], a["core"])
    rates = _alarm_rates(a["alarm"], a["core"], thr)
    summary = {
        "temp_mae_c": fused["mae_c"],
        "temp_p95_abs_err_c": fused["p95_abs_err_c"],
        "temp_mae_c_no_blackbody": _errors(a["fused_nb"], a["core"])["mae_c"],
        "temp_mae_c_model_head": _errors(a["model"], a["core"])["mae_c"],
        "temp_mae_c_canthus": _errors(a["canthus"], a["core"])["mae_c"],
        "id_top1_thermal": top1,
        "id_top1_thermal_ir_only_ablation": next(
            (r["top1"] for r in results if "thermal_face_ir_only" in r["case"] and "top1" in r), float("nan")
        ),
        "alarm_sensitivity": rates["sensitivity"],
        "alarm_specificity": rates["specificity"],
        "latency_p50_ms": lat_stats["p50_ms"],
        "frames": len(a["core"]),
        "frames_without_face": missed,
        "target_mae_met": fused["mae_c"] <= 0.3,
        "target_p95_met": fused["p95_abs_err_c"] <= 0.5,
    }
    config = {
        "heldout_identities": [people.start, people.stop],
        "captures": args.captures,
        "ambient_bands_c": [[16, 18], [21.5, 24.5], [28, 30]],
        "alarm_c": thr,
        "calibration": {
            k: getattr(cal, k)
            for k in (
                "canthus_offset_c",
                "canthus_ambient_per_c",
                "canthus_per_inv_side",
                "model_sigma_c",
                "canthus_sigma_c",
            )
        },
    }
    write_report(args, "thermal", config, results, summary)
    if args.plot:
        rows = [r for r in results if r.get("mae_c") is not None and r["case"].startswith("temperature")]
        bar_plot(
            args.plot,
            [r["case"].replace("temperature: ", "") for r in rows],
            [r["mae_c"] for r in rows],
            "MAE (°C)",
            "thermal screening error, held-out set",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
