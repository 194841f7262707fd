"""Write ``manifest.json`` (DESIGN.md §3) over a bundle directory and verify it at once.

The manifest lists every shipped file with its size and sha256; the device SDK
(:mod:`biogate.bundle`) refuses the bundle if any of them changes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any

from biogate.bundle import MANIFEST, SCHEMA, sha256_file, verify
from biogate.exporters.registry import ModelSpec

#: Files a bundle may ship (``engines/`` is built on the device and never hashed).
SHIPPED = ("model.onnx", "model.int8.onnx", "model.int8.cpu.onnx", "calib.cache")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("torch", "onnx", "onnxruntime"):
        with contextlib.suppress(ImportError):
            out[name] = __import__(name).__version__
    try:
        import biogate

        out["biogate"] = biogate.__version__
    except (ImportError, AttributeError):
        pass
    return out


def write_manifest(root: Path, spec: ModelSpec, **sections: Any) -> dict[str, Any]:
    """Hash the shipped files in ``root``, write the manifest, verify, and return it.

    ``sections`` fills the manifest's ``calibration``, ``metrics``, ``int8``, ``export``,
    ``tensorrt`` and ``recommended_precision`` entries.
    """
    root = Path(root)
    files = {}
    for name in SHIPPED:
        path = root / name
        if path.is_file():
            files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "name": spec.name,
        "task": spec.task,
        "version": spec.version,
        "seed": spec.seed,
        "description": spec.description,
        "license": spec.license,
        "inputs": [t.to_json() for t in spec.inputs],
        "outputs": [t.to_json() for t in spec.outputs],
        "dynamic_spatial": bool(spec.dynamic_spatial),
        "files": files,
        "calibration": sections.pop("calibration", {}),
        "metrics": sections.pop("metrics", {}),
        "thresholds": dict(spec.thresholds),
        "int8": sections.pop("int8", {"available": False, "fit": False, "reason": "not quantized"}),
        "recommended_precision": sections.pop("recommended_precision", {"cpu": "fp32"}),
    }
    export = sections.pop("export", {})
    export.setdefault("created_utc", _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    export.setdefault("versions", _versions())
    manifest["export"] = export
    if spec.training:
        manifest["training"] = dict(spec.training)
    manifest.update(sections)
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return verify(root)
