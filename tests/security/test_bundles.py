"""Issue #16 findings 5, 4 (manifest side) and 7 (bundle items), tried as an attacker would.

Each test fails on the old main (bundles unsigned, symlinks followed, manifest types unchecked) and
passes now.  The bundles are real: a one-node ONNX graph, a manifest written and signed by the
exporter's own writer (``tests/conftest.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from biogate import engine
from biogate.bundle import open_bundle, verify
from biogate.bundle.signing import SigningKey, load_or_create_signing_key, write_signature
from biogate.cli.main import main
from biogate.errors import BundleError, ConfigError
from biogate.models import FaceLiveness

pytest.importorskip("onnx")


def _rehash(root: Path, name: str = "model.onnx") -> None:
    """What the attacker of finding 5 did: change a file and recompute its sha256 in the manifest."""
    manifest = json.loads((root / "manifest.json").read_text())
    data = (root / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _resign(root: Path, **changes) -> None:
    """A *trusted* signer writing a malformed manifest (an exporter bug): the structure checks must hold."""
    manifest = json.loads((root / "manifest.json").read_text())
    manifest.update(changes)
    (root / "manifest.json").write_text(json.dumps(manifest))
    write_signature(root, (root / "manifest.json").read_bytes(), load_or_create_signing_key())


def _refused(root: Path, *patterns: str) -> str:
    """Every way to load the bundle refuses it with one BundleError matching ``patterns``."""
    messages = []
    for load in (verify, open_bundle, engine.load, lambda b: FaceLiveness.from_bundle(b, require_fit=False)):
        with pytest.raises(BundleError) as info:
            load(root)
        messages.append(str(info.value))
    for text in messages:
        for pattern in patterns:
            assert pattern in text, text
    return messages[0]


def test_rehashed_model_is_refused(signed_bundle, capsys):
    root = signed_bundle()
    data = bytearray((root / "model.onnx").read_bytes())
    data[-1] ^= 0x01  # a modified model ...
    (root / "model.onnx").write_bytes(bytes(data))
    _rehash(root)  # ... with its sha256 recomputed in the manifest
    key_id = load_or_create_signing_key().public.key_id
    _refused(root, "manifest.sig", key_id, "does not match manifest.json")
    assert main(["bundle", "verify", str(root)]) == 2
    err = capsys.readouterr().err
    assert "manifest.sig" in err and key_id in err and "Traceback" not in err


def test_swapped_model_from_another_bundle_is_refused(signed_bundle):
    victim, other = signed_bundle(), signed_bundle(name="face_liveness", side=32)
    (victim / "model.onnx").write_bytes((other / "model.onnx").read_bytes())
    _refused(victim, "model.onnx", "sha256")  # the file alone: its hash is signed
    _rehash(victim)
    _refused(victim, "does not match manifest.json")  # re-listed: the manifest is signed
    (victim / "manifest.json").write_bytes((other / "manifest.json").read_bytes())
    _refused(victim, "does not match manifest.json")  # the other bundle's manifest: not this signature


def test_whole_bundle_of_another_kind_is_refused_by_the_model(signed_bundle):
    palm = signed_bundle(name="palm_liveness", seed="001", thresholds={"live": 0.5})
    open_bundle(palm)  # validly signed ...
    with pytest.raises(BundleError, match="implements seed 001; this model runs seed 004"):
        FaceLiveness.from_bundle(palm, require_fit=False)  # ... but not a face liveness model
    embed = signed_bundle(name="face_embed_dlib", task="face_embedding", thresholds={"cosine": 0.9})
    with pytest.raises(BundleError, match=r"'face_embedding' model .* needs task 'liveness'"):
        FaceLiveness.from_bundle(embed, require_fit=False)


def test_symlink_inside_to_outside_is_refused(signed_bundle, tmp_path):
    root = signed_bundle()
    outside = tmp_path / "outside.onnx"
    outside.write_bytes((root / "model.onnx").read_bytes())  # same bytes: the hash would match
    (root / "model.onnx").unlink()
    (root / "model.onnx").symlink_to(outside)
    _refused(root, "model.onnx is a symlink")
    (root / "model.onnx").unlink()
    (root / "model.onnx").write_bytes(outside.read_bytes())
    open_bundle(root)  # the regular file again: accepted
    manifest = root / "manifest.json"
    moved = tmp_path / "manifest.json"
    moved.write_bytes(manifest.read_bytes())
    manifest.unlink()
    manifest.symlink_to(moved)
    _refused(root, "manifest.json is a symlink")


def test_names_escaping_the_bundle_are_refused(signed_bundle):
    for name in ("../model.onnx", "/etc/passwd", "sub/../../x", "a\\b"):
        root = signed_bundle()
        manifest = json.loads((root / "manifest.json").read_text())
        manifest["files"][name] = {"sha256": "0" * 64, "bytes": 1}
        _resign(root, files=manifest["files"])
        _refused(root, repr(name))


def test_wrong_key_is_refused_naming_the_key(signed_bundle):
    stranger = SigningKey.generate()
    root = signed_bundle(signing_key=stranger)
    _refused(root, f"signed by key {stranger.public.key_id}, which is not trusted")
    open_bundle(root, trusted_keys=[stranger.public])  # trusted explicitly: accepted
    with pytest.raises(BundleError, match="not trusted"):  # and explicit trust replaces the defaults
        open_bundle(signed_bundle(), trusted_keys=[stranger.public])


def test_trusted_keys_from_the_environment(signed_bundle, tmp_path, monkeypatch):
    stranger = SigningKey.generate()
    stranger.write(tmp_path / "keys" / "vendor.key")
    root = signed_bundle(signing_key=stranger)
    monkeypatch.setenv("BIOGATE_TRUSTED_KEYS", str(tmp_path / "keys"))
    open_bundle(root)
    monkeypatch.setenv("BIOGATE_TRUSTED_KEYS", str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match="nothing-here' does not exist"):
        open_bundle(root)


def test_unsigned_bundle_is_refused(signed_bundle):
    root = signed_bundle()
    (root / "manifest.sig").unlink()
    _refused(root, "is unsigned (no manifest.sig)")


def test_development_override_is_logged_on_every_load(signed_bundle, monkeypatch, caplog):
    unsigned, stranger = signed_bundle(), signed_bundle(signing_key=SigningKey.generate())
    (unsigned / "manifest.sig").unlink()
    monkeypatch.setenv("BIOGATE_ALLOW_UNSIGNED", "1")
    with caplog.at_level(logging.WARNING, logger="biogate.bundle"):
        for _ in range(2):
            assert open_bundle(unsigned).signer.override
        engine.load(stranger)
    loud = [r.getMessage() for r in caplog.records if "BIOGATE_ALLOW_UNSIGNED=1" in r.getMessage()]
    assert len(loud) == 3 and "unsigned" in loud[0] and "not trusted" in loud[2]
    _rehash(stranger)  # a signature that does not match is tampering: refused even now
    _refused(stranger, "does not match manifest.json")


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"cosine": -1.0}, "thresholds['cosine'] = -1.0 is out of range: must be a cosine"),
        ({"cosine": "abc"}, "thresholds['cosine'] = 'abc' is not a finite number"),
        ({"delta": float("nan")}, "thresholds['delta'] = nan is not a finite number"),
        ({"delta": 0.2, "crop_margin": 7}, "thresholds['crop_margin'] = 7 is out of range"),
        ({"delta": 0.2, "alarm_c": 80.0}, "thresholds['alarm_c'] = 80.0 is out of range: must be a body"),
    ],
)
def test_manifest_thresholds_are_range_checked(signed_bundle, thresholds, message):
    root = signed_bundle()
    _resign(root, thresholds=thresholds)
    text = _refused(root, message)
    assert str(root) in text and "face_liveness" in text


def test_files_bytes_must_be_an_integer(signed_bundle):
    root = signed_bundle()
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"]["model.onnx"]["bytes"] = "abc"
    _resign(root, files=manifest["files"])
    _refused(root, "files['model.onnx'].bytes must be a non-negative integer, got 'abc'")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ("x", "'inputs' must be a non-empty list of tensor specs, got 'x'"),
        (["x"], "inputs[0] must be an object"),
        ([{"name": "image", "shape": "abc"}], "inputs[0].shape must be a list of integers"),
        ([{"name": "image", "shape": [1, 3], "dtype": "float99"}], "inputs[0].dtype 'float99'"),
    ],
)
def test_inputs_must_be_tensor_specs(signed_bundle, inputs, message):
    root = signed_bundle()
    _resign(root, inputs=inputs)
    _refused(root, message)
