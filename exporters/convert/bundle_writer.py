"""Write ``manifest.json`` (DESIGN.md §3) over a bundle directory, sign it and verify it at once.

The manifest lists every shipped file with its size and sha256 and, for a model of a deciding
role, the ``fitness`` section (held-out metrics, the budget, the verdict:
:mod:`biogate.bundle.fitness`).  The exact manifest bytes are signed with the exporter's Ed25519
key into ``manifest.sig`` (:mod:`biogate.bundle.signing`); the device SDK (:mod:`biogate.bundle`)
refuses the bundle if the signature, the manifest or any file changes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any

from biogate.bundle import MANIFEST, SCHEMA, sha256_file, verify
from biogate.bundle.fitness import BUDGETS, judge
from biogate.bundle.signing import SigningKey, load_or_create_signing_key, write_signature
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


def _runnable_metrics(metrics: dict[str, Any], int8: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per precision the engine may run without an override: FP32 and every INT8 file that passed."""
    out = {"fp32": metrics.get("fp32") or {}}
    if int8.get("available") and int8.get("fit") and metrics.get("int8"):
        out["int8"] = metrics["int8"]
    cpu = int8.get("cpu") or {}
    if cpu.get("fit") and cpu.get("file") == "model.int8.cpu.onnx" and metrics.get("int8_cpu"):
        out["int8_cpu"] = metrics["int8_cpu"]
    return out


def fitness_section(spec: ModelSpec, metrics: dict[str, Any], int8: dict[str, Any]) -> dict[str, Any]:
    """The ``fitness`` section of a deciding model: the worst budget metric over runnable precisions."""
    runs = _runnable_metrics(metrics, int8)
    worst: dict[str, Any] = {}
    for name, (sense, _) in BUDGETS[spec.role].items():
        values = [m.get(name) for m in runs.values()]
        if any(not isinstance(v, (int, float)) for v in values):
            worst[name] = None  # not measured for one precision: unfit (fail closed)
        else:
            worst[name] = max(values) if sense == "max" else min(values)
    return judge(spec.role, worst, spec.evaluation or spec.description, sorted(runs))


def write_manifest(
    root: Path, spec: ModelSpec, signing_key: SigningKey | None = None, **sections: Any
) -> dict[str, Any]:
    """Hash the shipped files in ``root``, write the manifest, sign it, verify, and return it.

    ``sections`` fills the manifest's ``calibration``, ``metrics``, ``int8``, ``export``,
    ``tensorrt`` and ``recommended_precision`` entries; ``fitness`` is computed from ``metrics``
    when the spec has a deciding ``role``.  ``signing_key`` defaults to this user's key
    (:func:`biogate.bundle.signing.load_or_create_signing_key`).
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
    if spec.role:
        manifest["fitness"] = fitness_section(spec, manifest["metrics"], manifest["int8"])
    manifest.update(sections)
    data = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")
    (root / MANIFEST).write_bytes(data)
    key = signing_key or load_or_create_signing_key()
    write_signature(root, data, key)
    return verify(root, trusted_keys=[key.public])
