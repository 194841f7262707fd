"""The walls between the sides: the device side reaches the training side only through the CLI.

``sdk/`` may import ``biogate.exporters`` in exactly the commands that are training-side work:
``export``, ``audit``, ``palm feedback``, ``demo --prepare`` and ``detect`` (exports of their
default bundles) and ``train``. Anything else there — a model, the kiosk, a simulator — must run
on a device without torch.
"""

from __future__ import annotations

import ast
from pathlib import Path

SDK = Path(__file__).resolve().parents[1] / "sdk"
ALLOWED = {
    "cli/cmd_export.py",
    "cli/cmd_audit.py",
    "cli/cmd_palm.py",
    "cli/cmd_demo.py",  # demo --prepare: exports the demo's bundles
    "cli/cmd_detect.py",  # builds its default detector bundles where torch is installed: an export
    "cli/cmd_train.py",
}


def _reaches_exporters(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and "exporters" in (node.module or "").split("."):
            return True
        if isinstance(node, ast.Import) and any("exporters" in a.name.split(".") for a in node.names):
            return True
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("biogate.exporters")
        ):
            return True  # lazy_import("biogate.exporters...")
    return False


def test_only_training_commands_import_the_training_side():
    reaching = {str(p.relative_to(SDK)) for p in SDK.rglob("*.py") if _reaches_exporters(p)}
    assert reaching <= ALLOWED, (
        f"device-side modules importing biogate.exporters: {sorted(reaching - ALLOWED)}"
    )
