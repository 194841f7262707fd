"""``biogate bundle verify DIR`` / ``biogate bundle info DIR``: check or describe a model bundle."""

from __future__ import annotations

import argparse
import json

from ..bundle import open_bundle

NAME = "bundle"
HELP = "verify a model bundle's files against its manifest, or print its manifest summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=("verify", "info"), help="verify: hash every file; info: print the manifest summary"
    )
    parser.add_argument("path", nargs="+", metavar="DIR", help="bundle directory (several allowed)")
    parser.add_argument("--json", action="store_true", help="info: print the whole manifest as JSON")


def run(args: argparse.Namespace) -> int:
    for path in args.path:
        bundle = open_bundle(path)  # raises BundleError naming the bad file
        m = bundle.manifest
        if args.action == "verify":
            print(f"OK {bundle.root} ({m['name']} v{m['version']}, {len(m['files'])} files verified)")
            continue
        if args.json:
            print(json.dumps(m, indent=2))
            continue
        int8 = m.get("int8", {})
        lat = m.get("metrics", {}).get("latency_ms", {})
        print(f"{m['name']} v{m['version']}  task={m['task']} seed={m['seed']} license={m['license']}")
        for t in m["inputs"]:
            print(f"  in  {t['name']} {t['shape']} {t['dtype']} {t.get('layout', '')} {t.get('color', '')}")
        for t in m["outputs"]:
            print(f"  out {t['name']} {t['shape']} {t['dtype']}")
        for name, entry in sorted(m["files"].items()):
            print(f"  file {name} {entry['bytes']} B sha256 {entry['sha256'][:16]}…")
        if int8:
            print(f"  int8 fit={int8.get('fit')} ({int8.get('reason', '')})")
        if lat:
            print("  cpu latency " + ", ".join(f"{k}={v}" for k, v in lat.items() if k.startswith("cpu_")))
        print(f"  recommended {m.get('recommended_precision')}")
    return 0
