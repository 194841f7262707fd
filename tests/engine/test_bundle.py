"""The device-side bundle reader refuses tampered, truncated or malformed bundles, naming the file."""

from __future__ import annotations

import json

import pytest

from biogate.bundle import open_bundle, verify
from biogate.errors import BundleError

from .conftest import resign, rewrite_manifest


def test_valid_bundle_verifies(bundle_factory):
    root = bundle_factory()
    bundle = open_bundle(root)
    assert bundle.name == "tiny"
    assert set(bundle.manifest["files"]) == {"model.onnx", "model.int8.onnx"}
    assert bundle.latency_ms("fp32") == 2.0


def test_tampered_file_is_named(bundle_factory):
    root = bundle_factory()
    data = bytearray((root / "model.int8.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte
    (root / "model.int8.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.int8\.onnx fails its sha256"):
        open_bundle(root)


def test_truncated_file_is_named(bundle_factory):
    root = bundle_factory()
    data = (root / "model.onnx").read_bytes()
    (root / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match=r"model\.onnx is truncated"):
        verify(root)


def test_missing_file_is_named(bundle_factory):
    root = bundle_factory()
    (root / "model.int8.onnx").unlink()
    with pytest.raises(BundleError, match=r"model\.int8\.onnx is missing"):
        verify(root)


def test_missing_and_corrupt_manifest(bundle_factory, tmp_path):
    with pytest.raises(BundleError, match="not a directory"):
        verify(tmp_path / "nope")
    root = bundle_factory()
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"manifest\.json is unreadable"):
        verify(root)
    (root / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"manifest\.json is missing"):
        verify(root)


def test_manifest_problems(bundle_factory):
    root = bundle_factory()
    rewrite_manifest(root, schema="other/2")
    with pytest.raises(BundleError, match="schema"):
        verify(root)
    root = bundle_factory()
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["thresholds"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    resign(root)
    with pytest.raises(BundleError, match="thresholds"):
        verify(root)
    root = bundle_factory()
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"]["../escape"] = {"sha256": "0", "bytes": 1}
    (root / "manifest.json").write_text(json.dumps(manifest))
    resign(root)
    with pytest.raises(BundleError, match="escapes"):
        verify(root)


def test_unlisted_file_lookup_is_an_error(bundle_factory):
    bundle = open_bundle(bundle_factory(with_int8=False))
    with pytest.raises(BundleError, match=r"no file 'model\.int8\.onnx'"):
        bundle.path("model.int8.onnx")
