"""Model bundles on the device: read ``manifest.json`` and verify every file before use.

A bundle (DESIGN.md §3) is a directory with ``manifest.json``, ``model.onnx`` and optionally
``model.int8.onnx``, ``calib.cache`` and ``engines/``.  :func:`open_bundle` refuses a bundle
whose manifest is malformed or whose files are missing, truncated or altered, with a message
naming the file.  This module needs only the standard library and numpy-free JSON: it runs on
the device (Python 3.8) and never imports torch or onnx.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import BundleError

#: Manifest schema this SDK reads; the major version must match.
SCHEMA = "biogate.bundle/1"
MANIFEST = "manifest.json"
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
_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class Bundle:
    """A verified model bundle: its directory and parsed manifest.

    Use :func:`open_bundle` to get one; it has already checked every file's size and sha256.
    """

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return list(self.manifest["inputs"])

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return list(self.manifest["outputs"])

    @property
    def int8(self) -> dict[str, Any]:
        """The INT8 verdict: ``{"available", "fit", "reason", ...}`` (empty when never quantized)."""
        return dict(self.manifest.get("int8") or {})

    def has(self, filename: str) -> bool:
        """True when ``filename`` is one of the bundle's verified files."""
        return filename in self.manifest["files"]

    def path(self, filename: str) -> Path:
        """Absolute path of a verified file; a file the manifest does not list is an error."""
        if not self.has(filename):
            listed = ", ".join(sorted(self.manifest["files"]))
            raise BundleError(f"bundle {self.root}: no file {filename!r} in the manifest (has: {listed})")
        return self.root / filename

    def latency_ms(self, precision: str, device: str = "cpu") -> float | None:
        """Measured batch-1 p50 latency for ``precision`` on ``device`` from the manifest, if any."""
        table = (self.manifest.get("metrics") or {}).get("latency_ms") or {}
        value = table.get(f"{device}_{precision}")
        return float(value) if value is not None else None

    def engines_dir(self) -> Path:
        """Where device-built TensorRT engines live (``<bundle>/engines``)."""
        return self.root / "engines"

    def __repr__(self) -> str:
        return f"Bundle({str(self.root)!r}, name={self.name!r})"


def read_manifest(root: str | Path) -> dict[str, Any]:
    """Parse and structurally check ``<root>/manifest.json`` (no file hashing)."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"bundle {root}: not a directory")
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"bundle {root}: {MANIFEST} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"bundle {root}: {MANIFEST} is unreadable or not JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {root}: {MANIFEST} must hold a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise BundleError(f"bundle {root}: {MANIFEST} lacks key(s) {', '.join(missing)}")
    schema = str(manifest["schema"])
    if not (schema == SCHEMA or schema.startswith(SCHEMA + ".")):  # minor versions stay readable
        raise BundleError(f"bundle {root}: {MANIFEST} has schema {schema!r}; this SDK reads {SCHEMA!r}")
    files = manifest["files"]
    if not isinstance(files, dict) or "model.onnx" not in files:
        raise BundleError(
            f"bundle {root}: {MANIFEST} 'files' must map file names to hashes and list model.onnx"
        )
    for name, entry in files.items():
        if not isinstance(entry, dict) or "sha256" not in entry or "bytes" not in entry:
            raise BundleError(f"bundle {root}: {MANIFEST} entry for {name!r} needs 'sha256' and 'bytes'")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise BundleError(f"bundle {root}: {MANIFEST} lists {name!r}, which escapes the bundle directory")
    return manifest


def verify(root: str | Path) -> dict[str, Any]:
    """Check every listed file exists with the recorded size and sha256; return the manifest.

    Raises:
        BundleError: naming the first file that is missing, truncated, grown or altered.
    """
    root = Path(root)
    manifest = read_manifest(root)
    for name, entry in sorted(manifest["files"].items()):
        path = root / name
        if not path.is_file():
            raise BundleError(f"bundle {root}: file {name} is missing")
        size = path.stat().st_size
        expected = int(entry["bytes"])
        if size != expected:
            kind = "truncated" if size < expected else "larger than recorded"
            raise BundleError(
                f"bundle {root}: file {name} is {kind} ({size} bytes, manifest says {expected})"
            )
        if sha256_file(path) != entry["sha256"]:
            raise BundleError(f"bundle {root}: file {name} fails its sha256 check (tampered or corrupt)")
    return manifest


def open_bundle(root: str | Path | Bundle) -> Bundle:
    """Verify a bundle directory and return it; a :class:`Bundle` passes through unchanged."""
    if isinstance(root, Bundle):
        return root
    path = Path(root).expanduser().resolve()
    return Bundle(path, verify(path))


__all__ = ["MANIFEST", "SCHEMA", "Bundle", "open_bundle", "read_manifest", "sha256_file", "verify"]
