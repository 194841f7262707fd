"""``biogate bundle verify|info`` and the argument errors of ``biogate export``."""

from __future__ import annotations

from biogate.cli.main import main


def test_verify_ok_and_tampered(bundle_factory, capsys):
    root = bundle_factory()
    assert main(["bundle", "verify", str(root)]) == 0
    assert "OK" in capsys.readouterr().out
    (root / "model.onnx").write_bytes(b"x" + (root / "model.onnx").read_bytes()[1:])
    assert main(["bundle", "verify", str(root)]) == 2
    err = capsys.readouterr().err
    assert "model.onnx" in err and "sha256" in err and "Traceback" not in err


def test_info_prints_the_summary(bundle_factory, capsys):
    assert main(["bundle", "info", str(bundle_factory())]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "cpu_fp32" in out and "model.int8.onnx" in out


def test_export_needs_exactly_one_target(capsys):
    assert main(["export"]) == 2
    assert "exactly one of MODEL or --all" in capsys.readouterr().err
    assert main(["export", "no_such_model"]) == 2
    assert "unknown model 'no_such_model'" in capsys.readouterr().err


def test_export_list(capsys):
    assert main(["export", "--list"]) == 0
    assert "reference_cnn" in capsys.readouterr().out


def test_a_failing_model_is_one_line_not_a_traceback(monkeypatch, capsys, tmp_path):
    from biogate.exporters import registry

    from .conftest import spec

    def boom():
        raise RuntimeError("size mismatch for stem.0.weight")

    broken = spec()
    broken.name, broken.build = "broken_for_test", boom
    registry.load_all()
    monkeypatch.setitem(registry._REGISTRY, broken.name, broken)
    assert main(["export", "broken_for_test", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "broken_for_test: FAILED: RuntimeError: size mismatch" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_keygen_sign_trust_verify(bundle_factory, tmp_path, capsys):
    root = bundle_factory()
    key = tmp_path / "vendor" / "vendor.key"
    assert main(["bundle", "keygen", "--out", str(key)]) == 0
    assert (key.stat().st_mode & 0o777) == 0o600 and key.with_name("vendor.key.pub").is_file()
    assert main(["bundle", "keygen", "--out", str(key)]) == 2  # never replaces a key
    assert "refusing to replace" in capsys.readouterr().err
    assert main(["bundle", "sign", str(root), "--key", str(key)]) == 0
    assert main(["bundle", "verify", str(root)]) == 2  # the vendor key is not trusted yet
    assert "not trusted" in capsys.readouterr().err
    trust = tmp_path / "trust"
    assert main(["bundle", "trust", str(key) + ".pub", "--dir", str(trust)]) == 0
    assert main(["bundle", "verify", str(root), "--trusted-key", str(trust)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "signed by ed25519:" in out
    assert main(["bundle", "info", str(root), "--trusted-key", str(trust)]) == 0
    assert "signer ed25519:" in capsys.readouterr().out


def test_sign_refuses_files_that_do_not_match(bundle_factory, capsys):
    root = bundle_factory()
    (root / "model.onnx").write_bytes(b"not the model")
    assert main(["bundle", "sign", str(root)]) == 2
    err = capsys.readouterr().err
    assert "model.onnx" in err and "Traceback" not in err
    assert main(["bundle"]) == 2
    assert "needs an action" in capsys.readouterr().err
