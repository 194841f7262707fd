"""Hostile benchmark (issue #16 H): every simulated attack against every shipped configuration.

    python benchmarks/bench_attacks.py --json attacks.json           # the full run (~20 min, 2 cores)
    python benchmarks/bench_attacks.py --quick                        # smoke run (one configuration)
    python benchmarks/bench_attacks.py --species warm_print,warm_screen --configs examples
                                                                      # beyond the threat model

Four parts, each through the real parts (no mocks):

1. **Attacks**: every species of ``exporters/pad/attacks.py`` rendered on enrolled people's real
   photographs (``_attack_scene.py``: what the RGB and the thermal camera see), plus strangers,
   walk up to the real kiosk (``build_kiosk`` from each parsed configuration of
   ``_attack_configs.py``) driving the C gate firmware on a pty. Every relay open in an attack
   session is a wrong open. Configurations with an unfit decider and no override must refuse to
   start (checked), one that starts anyway counts in ``unfit_model_starts``.
2. **Genuine visitors**: enrolled people walk up to every configuration that started;
   ``genuine_open_rate`` = presentations the relay opened for / genuine presentations.
3. **Delete-while-running**: ``biogate gallery delete --id X`` (the CLI, a subprocess) on a
   running kiosk that keeps seeing X; ``revocation_p99_ms`` = p99 of the time from the command's
   return to the last OPEN for X (relay trace). An OPEN later than 1 s is a wrong open.
4. **Replay after restart**: ``firmware_bridge.replay_attack.replay_after_restart`` for every kind
   of state damage (missing, empty, garbage, truncated, deleted while running, RAM only).

Summary keys: ``wrong_opens`` (0), ``attacks_tried``, ``configs_tried``, ``unfit_model_starts`` (0),
``revocation_p99_ms`` (≤ 1000), ``replays_accepted_after_restart`` (0), ``genuine_open_rate`` (≥ 0.95).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _attack_configs import Case, cases, demo, unfit_without_override  # noqa: E402
from _attack_runs import prepare_work, revocation_trials, run_session  # noqa: E402
from _attack_scene import Faces, Presentation, attack_views, background, species_names, write_walkup  # noqa: E402
from _common import bar_plot, base_parser, print_table, write_report  # noqa: E402

#: Enrolled people (the attacks' victims) and strangers (never enrolled; they also wear the
#: partial attacks). All are real photographs of exporters/data/face_data.py.
ENROLLED = ("eileen_collins", "t1_person0", "t1_person1", "t1_person2", "tom_hanks")
STRANGERS = ("cameraman", "t1_person3", "t1_person4", "t1_person5")
REVOKED_PERSON = "tom_hanks"
ENROL_SEED = 1  # the enrolment photo is another augmented view than any walk-up view


def _attack_script(faces: Faces, species: list[str], rounds: int, victims: int) -> list[Presentation]:
    """Each species on ``victims`` enrolled people per round, then the strangers.

    Victims are taken in turn across species, so no one reappears within the open cooldown (an
    OPEN for one attack would otherwise hide the next attack on the same person).
    """
    out = []
    turn = 0
    for r in range(rounds):
        for sp in species:
            for _ in range(victims):
                k = turn % len(ENROLLED)
                turn += 1
                seeds = tuple(200 + 10 * r + 3 * k + j for j in range(3))
                wearer = STRANGERS[(k + r) % len(STRANGERS)]
                views, look = attack_views(faces, ENROLLED[k], wearer, sp, seeds)
                out.append(
                    Presentation(f"{sp} of {ENROLLED[k]}", "attack", ENROLLED[k], sp, look=look, views=views)
                )
        for s in STRANGERS[: max(1, victims - 1)]:
            views = tuple(faces.view(s, 400 + 10 * r + j) for j in range(3))
            out.append(Presentation(f"stranger {s}", "stranger", s, views=views))
    return out


def _genuine_script(faces: Faces, rounds: int) -> list[Presentation]:
    return [
        Presentation(
            f"enrolled {p}", "genuine", p, views=tuple(faces.view(p, 500 + 10 * r + j) for j in range(3))
        )
        for r in range(rounds)
        for p in ENROLLED
    ]


def write_scripts(root: Path, bundles: Path, faces: Faces, args: Any, species: list[str]) -> dict[str, Any]:
    """The walk-ups as visitors folders (``synthetic://walkup``): attacks, genuine (with the enrolment
    photos), and the one person of delete-while-running."""
    room = background(bundles)
    enrol = {p: faces.view(p, ENROL_SEED) for p in ENROLLED}
    attacks = _attack_script(faces, species, args.rounds, args.victims)
    genuine = _genuine_script(faces, args.genuine_rounds)
    views = tuple(faces.view(REVOKED_PERSON, 300 + j) for j in range(3))
    shown = Presentation(f"{REVOKED_PERSON} (enrolled as rev-k)", "genuine", REVOKED_PERSON, views=views)
    return {
        "attacks": (write_walkup(root / "walkup-attacks", attacks, room, {}), attacks),
        "genuine": (write_walkup(root / "walkup-genuine", genuine, room, enrol), genuine),
        "revocation": (write_walkup(root / "walkup-revocation", [shown], room, {}), shown),
    }


def try_config(case: Case, bundles: Path, args: Any, scripts: dict) -> dict[str, Any]:
    """Start the kiosk of ``case``; if it starts, run the attack and the genuine session on it."""
    from biogate.errors import BiogateError

    work = Path(tempfile.mkdtemp(prefix="attacks-", dir=args.workdir))
    config = case.build(work)
    key = prepare_work(work, config, bundles, scripts["genuine"][0])
    unfit = unfit_without_override(config)
    out: dict[str, Any] = {
        "config": case.name,
        "origin": case.origin,
        "shipped": case.shipped,
        "unfit": unfit,
    }
    walk = {"dwell_s": args.dwell_s, "gap_s": args.gap_s, "seed": 3}
    t0 = time.monotonic()
    try:
        attacks = run_session(config, key, *scripts["attacks"], **walk)
    except BiogateError as exc:  # a start-up refusal outside build_kiosk's own checks
        attacks = None
        out["error"] = f"{type(exc).__name__}: {exc}"
    if attacks is None or not attacks.started:
        out.update(started=False, error=out.get("error") or attacks.error)
        return out
    genuine = run_session(config, key, *scripts["genuine"], **walk)
    out.update(started=True, attacks=attacks, genuine=genuine, seconds=round(time.monotonic() - t0, 1))
    return out


def species_rows(name: str, session: Any) -> list[dict[str, Any]]:
    """One row per (configuration, species or kind): presentations, relay opens, decisions, why denied."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in session.rows:
        groups.setdefault(row["species"] or row["kind"], []).append(row)
    out = []
    for group, rows in groups.items():
        decisions = sum((r["decisions"] for r in rows), Counter())
        why = Counter(r["why_not"] for r in rows if r["why_not"])
        out.append(
            {
                "config": name,
                "species": group,
                "presentations": len(rows),
                "relay_opens": sum(r["relay_opens"] for r in rows),
                "presentations_opened": sum(1 for r in rows if r["relay_opens"] or r["opened_for"]),
                "opened_for": sorted({i for r in rows for i in r["opened_for"]}),
                "decisions": dict(decisions),
                "no_decision": sum(1 for r in rows if not r["decisions"]),
                "why_denied": why.most_common(1)[0][0] if why else "",
            }
        )
    return out


def _revocation(bundles: Path, args: Any, scripts: dict) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="attacks-rev-", dir=args.workdir))
    config = demo(bundles, open_cooldown_s=0.0, open_duration_ms=100)(work)  # an OPEN per decision
    key = prepare_work(work, config, bundles, scripts["genuine"][0])
    return revocation_trials(config, key, *scripts["revocation"], args.revocations)


def _replays(args: Any) -> list[dict[str, Any]]:
    from biogate.firmware_bridge.replay_attack import DAMAGES, replay_after_restart

    damages = DAMAGES[:1] if args.quick else DAMAGES
    return [replay_after_restart(d, opens=args.replay_opens).as_dict() for d in damages]


def _parser():
    parser = base_parser(__doc__.splitlines()[0])
    add = parser.add_argument
    add("--bundles", help="a prepared demo folder (biogate demo --prepare DIR); default: the cache's")
    add("--cache", help="where the demo folder is prepared (default $BIOGATE_CACHE or ~/.cache/biogate)")
    add("--workdir", help="where work folders go (default: the system temp folder)")
    add("--configs", default="", help="comma-separated configuration names, or words in them")
    add("--species", default="", help="comma-separated species (default: every one of ATTACKS)")
    add("--overrides", action="store_true", help="also the allow_unfit overrides (NOT shipped)")
    add("--rounds", type=int, default=1, help="rounds of every species on every victim")
    add("--victims", type=int, default=len(ENROLLED), help="enrolled people each species is made of")
    add("--genuine-rounds", type=int, default=4, help="walk-ups per enrolled person")
    add("--revocations", type=int, default=20, help="delete-while-running trials")
    add("--replay-opens", type=int, default=20, help="OPENs captured before each restart")
    add("--dwell-s", type=float, default=1.6, help="seconds each visitor stands there")
    add("--gap-s", type=float, default=0.6, help="seconds between visitors")
    return parser


def run_configs(bundles: Path, args: Any, scripts: dict) -> tuple[list, list]:
    """Every configuration: (what happened to each, result rows)."""
    words = [w for w in args.configs.split(",") if w]
    tried, results = [], []
    for case in cases(bundles, overrides=args.overrides, only=words):
        print(f"config {case.name} ...", flush=True)
        t = try_config(case, bundles, args, scripts)
        tried.append(t)
        start = {
            "config": case.name,
            "species": "(start)",
            "started": t["started"],
            "must_refuse": bool(t["unfit"]),
        }
        if not t["started"]:
            print(f"  refused to start: {t['error'][:200]}", flush=True)
            results.append({**start, "refusal": t["error"]})
            continue
        rows = species_rows(case.name, t["attacks"]) + species_rows(case.name, t["genuine"])
        for r in rows:
            shown = f"{r['presentations']:>3} shown, relay opened {r['relay_opens']}"
            print(f"  {r['species']:<16} {shown}, {r['why_denied']}", flush=True)
        session = t["attacks"]
        results += rows
        results.append({**start, "notices": session.notices, "pipeline_errors": session.pipeline_errors,
                        "relay_opens_vs_open_decisions": [session.relay_opens, session.decision_opens],
                        "seconds": t["seconds"]})  # fmt: skip
    return tried, results


def _pct(samples: list[float], q: float) -> float | None:
    return float(np.percentile(samples, q)) if samples else None


def summarise(tried: list, rev: dict, replays: list) -> tuple[dict, dict]:
    """The summary keys of issue #16, and the figures behind them."""
    started = [t for t in tried if t["started"]]
    attack_opens = sum(r["relay_opens"] for t in started for r in t["attacks"].rows)
    replay_opens = sum(r["relay_opens"] for r in replays)
    genuine = [r for t in started for r in t["genuine"].rows]
    samples = rev["samples_ms"]
    summary = {
        "wrong_opens": attack_opens + rev["late_opens"] + replay_opens,
        "attacks_tried": sum(1 for t in started for r in t["attacks"].rows if r["kind"] == "attack"),
        "configs_tried": len(tried),
        "unfit_model_starts": sum(1 for t in started if t["unfit"]),
        "revocation_p99_ms": _pct(samples, 99),
        "replays_accepted_after_restart": sum(r["accepted"] for r in replays),
        "genuine_open_rate": sum(1 for r in genuine if r["relay_opens"]) / len(genuine) if genuine else None,
    }
    behind = {
        "wrong_opens_by_part": {
            "attacks": attack_opens, "revocation_late": rev["late_opens"], "replay": replay_opens
        },
        "strangers_tried": sum(1 for t in started for r in t["attacks"].rows if r["kind"] == "stranger"),
        "genuine_presentations": len(genuine),
        "configs_started": [t["config"] for t in started],
        "configs_refused": [t["config"] for t in tried if not t["started"]],
        "refusals_all_had_unfit_deciders": all(bool(t["unfit"]) for t in tried if not t["started"]),
        "revocation_valid_trials": len(samples),
        "revocation_p50_ms": _pct(samples, 50),
        # signed: last OPEN minus the delete command's return (< 0: it stopped before the return)
        "revocation_signed_p50_ms": _pct(rev["signed_ms"], 50),
        "revocation_signed_max_ms": max(rev["signed_ms"], default=None),
        "replayed_frames": sum(r["replayed"] for r in replays),
    }  # fmt: skip
    return summary, behind


def main() -> int:
    args = _parser().parse_args()
    if args.quick:
        args.configs = args.configs or "examples/kiosk.toml"
        args.victims, args.genuine_rounds, args.revocations, args.replay_opens = 1, 1, 2, 3
        args.dwell_s, args.gap_s = 1.0, 0.5
    from biogate.exporters.convert.demo_bundles import cached_folder, prepare

    bundles = Path(args.bundles) if args.bundles else prepare(cached_folder(args.cache))
    faces = Faces()
    species = [s for s in args.species.split(",") if s] or species_names()
    root = Path(tempfile.mkdtemp(prefix="attacks-walkups-", dir=args.workdir))
    scripts = write_scripts(root, bundles, faces, args, species)
    tried, results = run_configs(bundles, args, scripts)
    print("delete-while-running ...", flush=True)
    rev = _revocation(bundles, args, scripts)
    print("replay after restart ...", flush=True)
    replays = _replays(args)
    results += [{"config": "revocation", **r} for r in rev["rows"]]
    results += [{"config": "replay", **r} for r in replays]
    summary, behind = summarise(tried, rev, replays)
    print()
    print_table(
        [r for r in results if "presentations" in r],
        ["config", "species", "presentations", "relay_opens", "opened_for", "no_decision", "why_denied"],
    )
    config = {
        "species": species,
        "enrolled": list(ENROLLED),
        "strangers": list(STRANGERS),
        **{
            k: getattr(args, k)
            for k in ("rounds", "victims", "genuine_rounds", "dwell_s", "gap_s", "revocations")
        },
        **behind,
        "bundles": str(bundles),
        "quick": args.quick,
    }
    write_report(args, "attacks", config, results, summary)
    if args.plot:
        opened = [r for r in results if "presentations" in r and r["species"] != "genuine"]
        bar_plot(
            args.plot,
            [f"{r['config']}:{r['species']}" for r in opened],
            [r["relay_opens"] for r in opened],
            "relay opens (wrong)",
            "attacks and strangers: relay opens per configuration and species",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
