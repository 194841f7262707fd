"""Model bundles on the device: verify signature, structure, thresholds and every file before use.

A bundle (DESIGN.md §3) is a directory with ``manifest.json``, its detached Ed25519 signature
``manifest.sig``, ``model.onnx`` and optionally ``model.int8.onnx``, ``calib.cache`` and
``engines/``.  :func:`open_bundle` checks, in this order, and refuses with one
:class:`~biogate.errors.BundleError` naming the bundle and the file, key or field at fault:

1. ``manifest.json`` and ``manifest.sig`` are regular files inside the bundle (no links);
2. the manifest is JSON, and its signature verifies under a trusted key
   (:mod:`biogate.bundle.signing`; ``BIOGATE_ALLOW_UNSIGNED=1`` is the logged development override);
3. its structure, types and thresholds (:mod:`biogate.bundle.schema`);
4. every listed file is a regular file inside the bundle with the recorded size and sha256.

Whether a model is fit to decide is judged from the manifest's ``fitness`` section
(:mod:`biogate.bundle.fitness`) by whoever knows the model's role (:mod:`biogate.models.base`).
This package needs only the standard library and ``cryptography``: it runs on the device
(Python 3.8) and never imports torch or onnx.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Union

from ..errors import BundleError
from . import fitness as _fitness
from .files import FileMissing, hash_regular, open_regular, read_regular, sha256_file
from .schema import REQUIRED_KEYS, SCHEMA, check_manifest, check_threshold
from .signing import SIGNATURE, KeySpec, Signer, TrustStore, check_signature

MANIFEST = "manifest.json"
_MAX_MANIFEST = 4 << 20
_MAX_SIGNATURE = 16 << 10
_MISSING = object()

Trusted = Union[TrustStore, Iterable[KeySpec], None]


class Bundle:
    """A verified model bundle: its directory, parsed manifest and signer.

    Use :func:`open_bundle` to get one; it has already checked the signature, the manifest and
    every file's size and sha256.
    """

    def __init__(self, root: Path, manifest: dict[str, Any], signer: Signer | None = None) -> None:
        self.root = root
        self.manifest = manifest
        self.signer = signer

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def task(self) -> str:
        return str(self.manifest["task"])

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

    @property
    def thresholds(self) -> dict[str, float]:
        """The decision thresholds (already range-checked by :func:`open_bundle`)."""
        return {k: float(v) for k, v in self.manifest["thresholds"].items()}

    def threshold(self, key: str, default: Any = _MISSING) -> float:
        """Threshold ``key``; a missing one is a BundleError naming the key (unless ``default``)."""
        thresholds = self.manifest["thresholds"]
        if key not in thresholds:
            if default is not _MISSING:
                return default
            raise BundleError(
                f"bundle {self.root} ({self.name}) has no thresholds[{key!r}]; "
                f"it has: {', '.join(sorted(thresholds)) or 'none'}"
            )
        return check_threshold(key, thresholds[key], f"bundle {self.root} ({self.name})")

    def fitness(self, role: str) -> _fitness.Fitness:
        """The device's verdict on this bundle for deciding ``role`` (see :mod:`biogate.bundle.fitness`)."""
        return _fitness.assess(self.manifest, str(self.root), role)

    def has(self, filename: str) -> bool:
        """True when ``filename`` is one of the bundle's verified files."""
        return filename in self.manifest["files"]

    def path(self, filename: str) -> Path:
        """Absolute path of a verified file; a file the manifest does not list is an error."""
        if not self.has(filename):
            listed = ", ".join(sorted(self.manifest["files"]))
            raise BundleError(f"bundle {self.root}: no file {filename!r} in the manifest (has: {listed})")
        return self.root / filename

    def read(self, filename: str) -> bytes:
        """The bytes of a listed file, read again through the no-link checks and re-hashed.

        Engines load models from these bytes, so what runs is what was verified even if the
        file is replaced after :func:`open_bundle`.
        """
        self.path(filename)
        entry = self.manifest["files"][filename]
        size, digest, data = hash_regular(self.root, filename, keep=True)
        if size != entry["bytes"] or digest != entry["sha256"]:
            raise BundleError(f"bundle {self.root}: file {filename} changed after it was verified")
        return data

    def latency_ms(self, precision: str, device: str = "cpu") -> float | None:
        """Measured batch-1 p50 latency for ``precision`` on ``device`` from the manifest, if any."""
        table = (self.manifest.get("metrics") or {}).get("latency_ms") or {}
        value = table.get(f"{device}_{precision}") if isinstance(table, dict) else None
        return float(value) if isinstance(value, (int, float)) else None

    def engines_dir(self) -> Path:
        """Where device-built TensorRT engines live (``<bundle>/engines``)."""
        return self.root / "engines"

    def __repr__(self) -> str:
        return f"Bundle({str(self.root)!r}, name={self.name!r})"


def _read_optional(root: Path, name: str, limit: int) -> bytes | None:
    try:
        return read_regular(root, name, limit)
    except FileMissing:
        return None


def _load(root: Path) -> tuple[bytes, Any]:
    if not root.is_dir():
        raise BundleError(f"bundle {root}: not a directory")
    data = _read_optional(root, MANIFEST, _MAX_MANIFEST)
    if data is None:
        raise BundleError(f"bundle {root}: {MANIFEST} is missing")
    try:
        return data, json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"bundle {root}: {MANIFEST} is unreadable or not JSON ({exc})") from None


def read_manifest(root: str | Path) -> dict[str, Any]:
    """Parse and structurally check ``<root>/manifest.json`` (no signature, no file hashing)."""
    root = Path(root)
    _, manifest = _load(root)
    check_manifest(root, manifest)
    return manifest


def check_files(root: Path, manifest: dict[str, Any]) -> None:
    """Every listed file is a regular file in the bundle with the recorded size and sha256."""
    for name, entry in sorted(manifest["files"].items()):
        size, digest, _ = hash_regular(root, name)
        expected = entry["bytes"]
        if size != expected:
            kind = "truncated" if size < expected else "larger than recorded"
            raise BundleError(
                f"bundle {root}: file {name} is {kind} ({size} bytes, manifest says {expected})"
            )
        if digest != entry["sha256"]:
            raise BundleError(f"bundle {root}: file {name} fails its sha256 check (tampered or corrupt)")


def verify_signed(root: str | Path, trusted_keys: Trusted = None) -> tuple[dict[str, Any], Signer]:
    """Check signature, structure and files (module docstring); return the manifest and its signer."""
    root = Path(root)
    data, manifest = _load(root)
    signer = check_signature(
        root, data, _read_optional(root, SIGNATURE, _MAX_SIGNATURE), TrustStore.resolve(trusted_keys)
    )
    check_manifest(root, manifest)
    check_files(root, manifest)
    return manifest, signer


def verify(root: str | Path, trusted_keys: Trusted = None) -> dict[str, Any]:
    """Check the bundle (see the module docstring) and return its manifest.

    Raises:
        BundleError: naming the first problem: unsigned, untrusted key, bad signature, a link or
        non-regular file, a malformed manifest or threshold, or a missing, truncated or altered file.
    """
    return verify_signed(root, trusted_keys)[0]


def open_bundle(root: str | Path | Bundle, trusted_keys: Trusted = None) -> Bundle:
    """Verify a bundle directory and return it; a :class:`Bundle` passes through unchanged."""
    if isinstance(root, Bundle):
        return root
    path = Path(root).expanduser().resolve()
    manifest, signer = verify_signed(path, trusted_keys)
    return Bundle(path, manifest, signer)


__all__ = [
    "MANIFEST",
    "REQUIRED_KEYS",
    "SCHEMA",
    "SIGNATURE",
    "Bundle",
    "TrustStore",
    "check_files",
    "open_bundle",
    "open_regular",
    "read_manifest",
    "sha256_file",
    "verify",
    "verify_signed",
]
