"""End-to-end kiosk pipeline: capture timestamp → gate command, on the firmware simulator.

The kiosk configuration of ``biogate demo`` (sharpness gate → MTCNN → liveness → embedder →
gallery → thermal → policy → GateClient over a pty to the C firmware) runs on a paced walk-up
stream of enrolled faces at 15 and 30 fps, with the policy's cooldowns set to zero so that every
frame that reaches a decision sends a gate command.  Reported per configuration: end-to-end
latency p50/p99 (capture → gate command confirmed), frame age at decision (the age of a frame
when the detector takes it up; its age on reaching the sink is ``frame_age_at_sink``), decisions per
second, process CPU use, and the p99 of each consecutive window of the run (to show that
latency does not grow).  SR/refinement "on" rows appear when a ``face_sr`` bundle is in the
folder or can be built.

The walk-up is ``synthetic://walkup`` (:mod:`biogate.sim.walkup`) over the demo's prepared folder:
with ``--bundles DIR`` (``biogate demo --prepare DIR`` on a training machine) it runs with the
device dependencies only; without it the folder is prepared in the cache, which needs torch.

    python benchmarks/bench_pipeline.py --bundles DIR --json out/pipeline.json      # 20 s per config
    python benchmarks/bench_pipeline.py --duration 600 --fps 15 --json out/soak.json   # 10-minute soak
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bar_plot, base_parser, latency_stats, print_table, write_report


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_config(
    bundles: Path, work: Path, fps: float, duration: float, sr_bundle: Path | None
) -> dict[str, Any]:
    from biogate import open_source
    from biogate.firmware_bridge import GateClient, GateSimulator
    from biogate.gallery import Gallery, GalleryKey
    from biogate.kiosk.app import build_kiosk
    from biogate.kiosk.config import parse_config
    from biogate.kiosk.demo import enrol_visitors, walkup_uri
    from biogate.sim.walkup import blackbody

    (work / "keys").mkdir(exist_ok=True)  # the gallery refuses a key anywhere under its folder
    (work / "data").mkdir(exist_ok=True)
    key_file = work / "keys" / f"gallery-{fps:g}-{sr_bundle is not None}.key"
    db = work / "data" / f"gallery-{fps:g}-{sr_bundle is not None}.db"
    GalleryKey.generate().write(key_file)
    with Gallery(db, GalleryKey.from_file(key_file), create=True) as gallery:
        enrol_visitors(bundles, gallery, lambda *_: None)
    bb_roi, bb_c = blackbody()
    models = {"detector": str(bundles), "liveness": str(bundles / "face_liveness"),
              "embedder": str(bundles / "face_embed_dlib")}  # fmt: skip
    if sr_bundle is not None:
        models["super_resolution"] = str(sr_bundle)
    config = parse_config(
        {
            "models": models,
            "gallery": {"path": str(db), "key_file": str(key_file)},
            "thermal": {"enabled": True, "blackbody_roi": bb_roi, "blackbody_c": bb_c, "max_age_ms": 500.0},
            "policy": {"open_cooldown_s": 0.0, "deny_cooldown_s": 0.0, "open_duration_ms": 200},
            "audit": {"path": str(work / "audit.jsonl")},
        },
        base_dir=work,
    )
    # Enrolled visitors only, 5 s each, back to back, for the whole duration.
    walk = {"select": "enrolled", "count": max(1, int(duration / 5.0)), "dwell_s": 5.0, "gap_s": 0.0}
    key = bytes(range(32))
    with GateSimulator(key, trace=False) as sim, GateClient(sim.port, key, heartbeat_s=0.25) as gate:
        e2e_all: list[float] = []  # every decision (the sink itself keeps only the latest 1000)
        thermal = open_source(walkup_uri(bundles / "walkup", fps, "thermal"))
        camera = open_source(walkup_uri(bundles / "walkup", fps, **walk))
        kiosk = build_kiosk(
            config,
            source=camera,
            thermal_source=thermal,
            gate=gate,
            on_decision=lambda record: e2e_all.append(record.latencies_ms["capture_to_gate"]),
        )
        cpu0, t0 = _cpu_s(), time.monotonic()
        with kiosk:
            kiosk.wait(timeout=duration + 60)
        camera.close()
        wall, cpu = time.monotonic() - t0, _cpu_s() - cpu0
        stats = kiosk.stats()
    e2e = np.array(e2e_all) if e2e_all else np.array([np.nan])
    windows = np.array_split(e2e, max(1, min(10, len(e2e) // 20)))
    window_p99 = [float(np.percentile(w, 99)) for w in windows if len(w)]
    e2e_stats = latency_stats(e2e)
    return {
        "fps": fps,
        "sr": sr_bundle is not None,
        "frames": stats["frames_in"],
        "decisions": len(e2e_all),
        "decisions_per_s": len(e2e_all) / wall,
        "e2e_p50_ms": e2e_stats["p50_ms"],
        "e2e_p99_ms": e2e_stats["p99_ms"],
        # Frame age at decision: how old a frame is when the pipeline takes it up to decide on it
        # (dequeued by the detector); the age when the decision reaches the sink is reported too.
        "frame_age_p50_ms": stats["input_age"]["detect"]["p50_ms"],
        "frame_age_p99_ms": stats["input_age"]["detect"]["p99_ms"],
        "frame_age_at_sink_p99_ms": stats["frame_age_at_decision"]["p99_ms"],
        "cpu_cores_used": cpu / wall,
        "window_p99_ms": window_p99,
        "p99_growth_ratio": window_p99[-1] / window_p99[0] if len(window_p99) > 1 else 1.0,
        "stage_p50_ms": {k: v["p50_ms"] for k, v in stats["stages"].items()},
        "dropped": {k: v["dropped"] for k, v in stats["queues"].items()},
        "errors": stats["errors"],
    }


def _prepared(cache: str | None) -> Path:
    """The demo folder prepared in the cache (training side: needs torch)."""
    from biogate.exporters.convert.demo_bundles import cached_folder, prepare

    return prepare(cached_folder(Path(cache or Path.home() / ".cache" / "biogate")))


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of walk-up per configuration")
    parser.add_argument("--fps", type=float, nargs="+", default=[15.0, 30.0], help="input frame rates")
    parser.add_argument("--bundles", default=None, help="prepared folder (biogate demo --prepare DIR)")
    parser.add_argument("--cache", default=None, help="without --bundles: where to prepare (needs torch)")
    parser.add_argument("--no-sr", action="store_true", help="skip the SR/refinement-on rows")
    args = parser.parse_args()
    duration = 6.0 if args.quick else args.duration

    bundles = Path(args.bundles) if args.bundles else _prepared(args.cache)
    sr_bundle = None
    if (bundles / "face_sr" / "manifest.json").is_file():
        sr_bundle = bundles / "face_sr"
    elif not args.no_sr and not args.bundles:
        try:
            from biogate.exporters import registry
            from biogate.exporters.convert.build import export

            if "face_sr" in registry.names():
                sr_bundle = export("face_sr", bundles, measure_latency=False).root
        except Exception as exc:  # SR is optional: say why its rows are missing
            print(f"SR rows skipped: {type(exc).__name__}: {exc}")
    if args.no_sr:
        sr_bundle = None
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        for sr in [None, sr_bundle] if sr_bundle is not None else [None]:
            for fps in args.fps:
                print(f"running {fps:g} fps, SR {'on' if sr else 'off'} for {duration:g} s ...", flush=True)
                results.append(run_config(bundles, Path(tmp), fps, duration, sr))
    print_table(results, ["fps", "sr", "decisions", "decisions_per_s", "e2e_p50_ms", "e2e_p99_ms",
                          "frame_age_p99_ms", "cpu_cores_used", "p99_growth_ratio"])  # fmt: skip
    base = [r for r in results if not r["sr"]]
    summary = {
        "e2e_p50_ms": max(r["e2e_p50_ms"] for r in base),
        "e2e_p99_ms": max(r["e2e_p99_ms"] for r in base),
        "frame_age_p99_ms": max(r["frame_age_p99_ms"] for r in base),
        "frame_age_at_sink_p99_ms": max(r["frame_age_at_sink_p99_ms"] for r in base),
        "decisions_per_s": min(r["decisions_per_s"] for r in base),
        "max_p99_growth_ratio": max(r["p99_growth_ratio"] for r in base),
        "errors": sum(sum(r["errors"].values()) for r in results),
    }
    config = {"duration_s": duration, "fps": args.fps, "bundles": str(bundles), "sr_bundle": str(sr_bundle)}
    write_report(args, "pipeline", config, results, summary)
    if args.plot:
        labels = [f"{r['fps']:g}fps{' SR' if r['sr'] else ''}" for r in results]
        bar_plot(
            args.plot, labels, [r["e2e_p99_ms"] for r in results], "e2e p99 ms", "capture → gate command"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
