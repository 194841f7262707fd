"""``biogate palm``: simulate a DICOM export folder, and clear one-line errors for user mistakes."""

from __future__ import annotations

import csv

import pydicom

from biogate.cli.main import main


def test_palm_simulate_writes_dicom_and_labels(tmp_path, capsys):
    out = tmp_path / "sims"
    assert (
        main(["palm", "simulate", str(out), "--live", "2", "--fake", "1", "--kinds", "rubber", "rods"]) == 0
    )
    rows = list(csv.DictReader((out / "labels.csv").read_text().splitlines()))
    assert [r["kind"] for r in rows] == ["live", "live", "rubber", "rods"]
    assert [r["label"] for r in rows] == ["1", "1", "0", "0"]
    ds = pydicom.dcmread(out / rows[0]["id"])
    assert ds.Modality == "DX" and ds.Rows == 64
    assert "wrote 4 DICOM files" in capsys.readouterr().out


def test_palm_user_mistakes_are_one_line_errors(tmp_path, capsys):
    assert main(["palm", "simulate", str(tmp_path), "--kinds", "latex"]) == 2
    assert "unknown fake kind 'latex'" in capsys.readouterr().err
    assert main(["palm"]) == 2
    assert "scan, simulate or feedback" in capsys.readouterr().err
