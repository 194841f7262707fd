"""``biogate audit inversion``: argument contract and the one-line error without the training side."""

from __future__ import annotations

import numpy as np

from biogate.cli import cmd_audit
from biogate.cli.main import build_parser, main
from biogate.errors import BackendUnavailable


def test_parser_requires_one_template_source() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "audit",
            "inversion",
            "--encoder",
            "b",
            "--templates",
            "t.npy",
            "--mode",
            "whitebox",
            "--iterations",
            "5",
        ]
    )
    assert args.mode == "whitebox" and args.iterations == 5 and args.gallery is None
    for bad in (
        ["audit", "inversion", "--encoder", "b"],
        ["audit", "inversion", "--encoder", "b", "--gallery", "g", "--templates", "t"],
    ):
        try:
            parser.parse_args(bad)
        except SystemExit as exc:
            assert exc.code == 2
        else:  # pragma: no cover
            raise AssertionError(f"{bad} was accepted")


def test_missing_training_side_is_one_clear_line(monkeypatch, tmp_path, capsys) -> None:
    def no_torch(name, extra=None):
        raise BackendUnavailable(name, extra, why="No module named 'torch'")

    monkeypatch.setattr(cmd_audit, "lazy_import", no_torch)
    np.save(tmp_path / "t.npy", np.ones((1, 128), np.float32))
    code = main(["audit", "inversion", "--encoder", str(tmp_path), "--templates", str(tmp_path / "t.npy")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "torch" in err[0] and "biogate[train]" in err[0]


def test_missing_encoder_bundle_is_a_clear_error(tmp_path, capsys) -> None:
    np.save(tmp_path / "t.npy", np.ones((1, 128), np.float32))
    code = main(
        ["audit", "inversion", "--encoder", str(tmp_path / "nope"), "--templates", str(tmp_path / "t.npy")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nope" in err[0]
