"""The structure of ``manifest.json``, checked before anything reads it (one BundleError, never a TypeError).

Types of every field the SDK reads (file entries, tensor specs, sections) and the range of every
decision threshold, by kind (:data:`THRESHOLD_KINDS`): a cosine threshold in (0, 1], a probability
in [0, 1], a body temperature in 30–45 °C, …  A threshold key the table does not know must still be
a finite number; add new keys to the table with the kind that bounds them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable

from ..errors import BundleError
from .files import check_name

#: Manifest schema this SDK reads; the major version must match.
SCHEMA = "biogate.bundle/1"
REQUIRED_KEYS = (
    "schema",
    "name",
    "task",
    "version",
    "seed",
    "inputs",
    "outputs",
    "files",
    "calibration",
    "metrics",
    "thresholds",
    "license",
)
DTYPES = ("float32", "float16", "int8", "uint8", "int32", "int64", "bool")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: Threshold kinds: (description of the valid range, test).
_KINDS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "cosine": ("a cosine-similarity threshold in (0, 1]", lambda v: 0.0 < v <= 1.0),
    "probability": ("a probability in [0, 1]", lambda v: 0.0 <= v <= 1.0),
    "distance": ("an embedding distance in (0, 4]", lambda v: 0.0 < v <= 4.0),
    "score": ("a non-negative finite score", lambda v: v >= 0.0),
    "fraction": ("a crop margin in [0, 2]", lambda v: 0.0 <= v <= 2.0),
    "body_c": ("a body temperature in 30–45 °C", lambda v: 30.0 <= v <= 45.0),
    "offset_c": ("a temperature offset in [-10, 10] °C", lambda v: -10.0 <= v <= 10.0),
    "slope": ("a calibration slope in [-100, 100]", lambda v: -100.0 <= v <= 100.0),
    "sigma_c": ("an uncertainty in (0, 10] °C", lambda v: 0.0 < v <= 10.0),
    "factor": ("an integer scale factor in 1..16", lambda v: v == int(v) and 1 <= v <= 16),
}
#: Known threshold keys and their kinds (a key not listed must be a finite number).
THRESHOLD_KINDS: dict[str, str] = {
    "cosine": "cosine",
    "match_threshold": "cosine",
    "distance": "distance",
    "face": "probability",
    "score": "probability",
    "nms": "probability",
    "live": "probability",
    "delta": "score",
    "crop_margin": "fraction",
    "alarm_c": "body_c",
    "canthus_offset_c": "offset_c",
    "canthus_ambient_per_c": "slope",
    "canthus_per_inv_side": "slope",
    "model_sigma_c": "sigma_c",
    "canthus_sigma_c": "sigma_c",
    "scale": "factor",
}


def is_number(value: Any) -> bool:
    """A finite int or float (``bool`` is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_threshold(key: str, value: Any, where: str) -> float:
    """``value`` as a float when it is in range for ``key``'s kind, else a BundleError naming both."""
    if not is_number(value):
        raise BundleError(f"{where}: thresholds[{key!r}] = {value!r} is not a finite number")
    kind = THRESHOLD_KINDS.get(key)
    if kind is not None:
        text, ok = _KINDS[kind]
        if not ok(float(value)):
            raise BundleError(f"{where}: thresholds[{key!r}] = {value!r} is out of range: must be {text}")
    return float(value)


def _fail(where: str, text: str) -> BundleError:
    return BundleError(f"{where}: manifest.json {text}")


def _check_tensor(where: str, section: str, i: int, t: Any) -> None:
    at = f"{section}[{i}]"
    if not isinstance(t, dict):
        raise _fail(where, f"{at} must be an object with name, shape and dtype, got {t!r}")
    if not isinstance(t.get("name"), str) or not t["name"]:
        raise _fail(where, f"{at}.name must be a non-empty string, got {t.get('name')!r}")
    shape = t.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise _fail(where, f"{at}.shape must be a list of integers (-1 = dynamic), got {shape!r}")
    if any(d < -1 or d == 0 for d in shape):
        raise _fail(where, f"{at}.shape {shape} has a dimension that is neither -1 nor positive")
    if t.get("dtype", "float32") not in DTYPES:
        raise _fail(where, f"{at}.dtype {t.get('dtype')!r} is not one of {', '.join(DTYPES)}")
    for key in ("layout", "color"):
        if key in t and not isinstance(t[key], str):
            raise _fail(where, f"{at}.{key} must be a string, got {t[key]!r}")
    if "normalization" in t and not isinstance(t["normalization"], dict):
        raise _fail(where, f"{at}.normalization must be an object, got {t['normalization']!r}")


def _check_files(root: Path, where: str, files: Any) -> None:
    if not isinstance(files, dict) or "model.onnx" not in files:
        raise _fail(where, "'files' must map file names to hashes and list model.onnx")
    for name, entry in files.items():
        check_name(root, name)
        if not isinstance(entry, dict):
            raise _fail(where, f"entry for {name!r} must be an object with 'sha256' and 'bytes'")
        size, digest = entry.get("bytes"), entry.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _fail(where, f"files[{name!r}].bytes must be a non-negative integer, got {size!r}")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise _fail(where, f"files[{name!r}].sha256 must be 64 lower-case hex digits, got {digest!r}")


def check_manifest(root: Path, manifest: Any) -> None:
    """Refuse a manifest whose structure, types or thresholds the SDK cannot use, naming the key."""
    where = f"bundle {root}"
    if not isinstance(manifest, dict):
        raise _fail(where, "must hold a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise _fail(where, f"lacks key(s) {', '.join(missing)}")
    schema = manifest["schema"]
    if not isinstance(schema, str) or not (schema == SCHEMA or schema.startswith(SCHEMA + ".")):
        raise _fail(where, f"has schema {schema!r}; this SDK reads {SCHEMA!r}")
    for key in ("name", "task", "seed", "license"):
        if not isinstance(manifest[key], str) or not manifest[key]:
            raise _fail(where, f"{key!r} must be a non-empty string, got {manifest[key]!r}")
    if not isinstance(manifest["version"], (str, int)) or isinstance(manifest["version"], bool):
        raise _fail(where, f"'version' must be a string, got {manifest['version']!r}")
    _check_files(root, where, manifest["files"])
    for section in ("inputs", "outputs"):
        tensors = manifest[section]
        if not isinstance(tensors, list) or not tensors:
            raise _fail(where, f"{section!r} must be a non-empty list of tensor specs, got {tensors!r}")
        for i, t in enumerate(tensors):
            _check_tensor(where, section, i, t)
    for section in ("calibration", "metrics", "thresholds", "int8", "fitness", "recommended_precision"):
        if section in manifest and not isinstance(manifest[section], dict):
            raise _fail(where, f"{section!r} must be an object, got {manifest[section]!r}")
    for key, value in manifest["thresholds"].items():
        check_threshold(key, value, f"{where} ({manifest['name']})")


__all__ = ["DTYPES", "REQUIRED_KEYS", "SCHEMA", "THRESHOLD_KINDS", "check_manifest", "check_threshold"]
