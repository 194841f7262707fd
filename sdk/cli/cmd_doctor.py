"""``biogate doctor``: what is present on this machine, and what works."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..doctor import collect

NAME = "doctor"
HELP = "report Python, native kernels, inference providers, accelerators, cameras and serial ports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _yes(entry: dict[str, Any]) -> str:
    if entry.get("available"):
        return f"yes ({entry.get('version', '')})".replace(" ()", "")
    return "no" + (f" — {entry['why']}" if entry.get("why") else "")


def run(args: argparse.Namespace) -> int:
    report = collect()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    native = report["native"]
    ort = report["onnxruntime"]
    acc = report["accelerators"]
    lines = [
        f"biogate        {report['biogate']}",
        f"python         {report['python']['version']} ({report['python']['executable']})",
        f"platform       {report['platform']['system']} [{report['platform']['cores']} cores]",
        "native         "
        + (
            f"yes, {native['simd']} path ({native['path']})"
            if native["available"]
            else f"NO — {native.get('why')}"
        ),
        f"numpy          {_yes(report['numpy'])}",
        f"opencv         {_yes(report['opencv'])}",
        f"onnxruntime    {_yes(ort)}",
    ]
    if ort.get("available"):
        lines.append(f"  providers    working: {', '.join(ort['working']) or 'none'}")
        for provider, why in ort["failures"].items():
            lines.append(f"  {provider}: {why}")
    for name in ("tensorrt", "pycuda", "picamera2"):
        lines.append(f"{name:<15}{_yes(acc[name])}")
    lines.append(f"jetson         {acc['jetson'] or 'no'}")
    devices = report["capture"]["devices"]
    lines.append(f"capture        {len(devices)} device(s)")
    for device in devices:
        lines.append(f"  {device}")
    lines.append(f"serial ports   {len(report['serial_ports'])}")
    for port in report["serial_ports"]:
        lines.append(f"  {port['device']}  {port['description']}")
    print("\n".join(lines))
    return 0
