"""Run every ``bench_*.py`` and collect one report for a board: JSON, Markdown and PNG plots.

    python benchmarks/run_all.py --out out/jetson-orin-nano --board "Orin Nano 8GB, JetPack 6.1"
    python benchmarks/run_all.py --quick --out out/smoke                 # a few minutes
    python benchmarks/run_all.py --only sharpness serial --out out/x     # a subset

Each benchmark runs in its own process (so one crash or missing dependency costs only its own
row), writes ``OUT/<name>.json`` and ``OUT/<name>.png``; ``OUT/report.json`` holds them all and
``OUT/report.md`` a table of every summary, so two boards compare with a diff of two files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Names of the benchmarks (``bench_X.py`` → ``X``), sorted."""
    return sorted(p.stem[len("bench_") :] for p in HERE.glob("bench_*.py"))


def run_one(name: str, out: Path, quick: bool, timeout: float) -> dict[str, Any]:
    json_path, png_path, log_path = out / f"{name}.json", out / f"{name}.png", out / f"{name}.log"
    cmd = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", str(json_path), "--plot", str(png_path)]
    if quick:
        cmd.append("--quick")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        status = "ok" if proc.returncode == 0 and json_path.exists() else f"exit {proc.returncode}"
        log_path.write_text(proc.stdout + proc.stderr)
    except subprocess.TimeoutExpired as exc:
        status = f"timeout after {timeout:g} s"
        log_path.write_text(str(exc.stdout or "") + str(exc.stderr or ""))
    entry: dict[str, Any] = {"name": name, "status": status, "seconds": round(time.monotonic() - t0, 1),
                             "command": " ".join(cmd[1:]), "log": log_path.name}  # fmt: skip
    if json_path.exists():
        entry["report"] = json.loads(json_path.read_text())
    return entry


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def markdown(entries: list[dict[str, Any]], board: str) -> str:
    """One table per benchmark summary, plus a status table."""
    machine = next((e["report"]["machine"] for e in entries if "report" in e), {})
    lines = [f"# biogate benchmarks — {board or machine.get('cpu', '?')}", ""]
    lines += [f"- {k}: {v}" for k, v in machine.items()]
    lines += ["", "| benchmark | status | seconds |", "|---|---|---|"]
    lines += [f"| {e['name']} | {e['status']} | {e['seconds']} |" for e in entries]
    for e in entries:
        if "report" not in e:
            continue
        lines += ["", f"## {e['name']}", "", "| summary key | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in e["report"]["summary"].items()]
        lines += ["", f"![{e['name']}]({e['name']}.png)"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder for this board")
    parser.add_argument("--board", default="", help="board description for the report title")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help=f"run only these (of {', '.join(discover())})"
    )
    parser.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="skip these")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per benchmark")
    args = parser.parse_args()
    names = discover()
    unknown = sorted((set(args.only or []) | set(args.skip)) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(names)}")
    names = [n for n in (args.only or names) if n not in args.skip]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in names:
        print(f"[{len(entries) + 1}/{len(names)}] {name} ...", flush=True)
        entry = run_one(name, out, args.quick, args.timeout)
        print(f"    {entry['status']} in {entry['seconds']} s", flush=True)
        entries.append(entry)
    (out / "report.json").write_text(json.dumps({"board": args.board, "benchmarks": entries}, indent=2))
    (out / "report.md").write_text(markdown(entries, args.board))
    print(f"wrote {out / 'report.json'} and {out / 'report.md'}")
    return 0 if all(e["status"] == "ok" for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
