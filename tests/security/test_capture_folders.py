"""Issue #16 finding 8 (and G): a folder read with ``watch=0`` is a finished set, delivered whole.

On the old main the first poll only marked the files as pending (``settle_s`` 0.5) and ``watch=0``
then ended the stream: ``dicom://folder?watch=0`` and ``xray-raw://folder?...&watch=0`` gave 0
frames and ``biogate capture`` still exited 0.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import biogate
from biogate.cli.main import main
from biogate.errors import ConfigError
from biogate.sim.xray import ScanConfig
from biogate.sim.xray_dicom import write_dicom as write_scan

W, H = 64, 48
RAMP = np.tile(np.arange(0, 4096, 64, dtype=np.uint16), (4, 1))


def write_dicom(path, instance):
    """One DX file as a detector export folder holds it (the X-ray simulator's writer)."""
    return write_scan(path, RAMP, ScanConfig(), subject="s", instance=instance)


def _raw(path, value):
    np.full((H, W), value, "<u2").tofile(path)
    return path


def _read_all(uri):
    with biogate.open_source(uri) as src:
        return list(src)


def test_dicom_folder_with_watch_0_delivers_every_file_in_name_order(tmp_path):
    for i, name in enumerate(("c.dcm", "a.dcm", "b.dcm")):
        write_dicom(tmp_path / name, i)
    frames = _read_all(f"dicom://{tmp_path}?watch=0")  # settle_s stays at its 0.5 s default
    assert [f.meta["path"].rsplit("/", 1)[-1] for f in frames] == ["a.dcm", "b.dcm", "c.dcm"]
    assert all(f.format == "xray16" for f in frames)


def test_xray_raw_folder_with_watch_0_delivers_every_file(tmp_path):
    for i in range(3):
        _raw(tmp_path / f"f{i}.raw", 1000 * (i + 1))
    frames = _read_all(f"xray-raw://{tmp_path}?w={W}&h={H}&watch=0")
    assert [int(f.image[0, 0]) for f in frames] == [1000, 2000, 3000]


def test_dir_folder_with_watch_0_ignores_settle_s(tmp_path):
    import cv2

    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((8, 8), i * 50, np.uint8))
    frames = _read_all(f"dir://{tmp_path}?watch=0&settle_s=30")
    assert len(frames) == 2


def test_a_file_still_being_written_is_skipped_with_a_warning_not_a_crash(tmp_path, caplog):
    _raw(tmp_path / "a.raw", 7)
    (tmp_path / "b.raw").write_bytes(b"\x00" * 100)  # a detector half-way through writing
    with caplog.at_level(logging.WARNING, "biogate.capture"):
        frames = _read_all(f"xray-raw://{tmp_path}?w={W}&h={H}&watch=0")
    assert len(frames) == 1 and "b.raw" in caplog.text


def test_existing_skip_with_watch_0_is_refused_as_delivering_nothing(tmp_path):
    with pytest.raises(ConfigError, match="existing=skip with watch=0"):
        biogate.open_source(f"dicom://{tmp_path}?watch=0&existing=skip")


def test_capture_cli_writes_every_file_of_a_finished_dicom_folder(tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    for i in range(3):
        write_dicom(folder / f"{i}.dcm", i)
    out = tmp_path / "out"
    assert (
        main(["capture", f"dicom://{folder}?watch=0", "--frames", "5", "--out", str(out), "--no-progress"])
        == 0
    )
    assert len((out / "frames.jsonl").read_text().splitlines()) == 3
    assert json.loads((out / "stats.json").read_text())["captured"] == 3
    assert "ended after 3 of 5" in capsys.readouterr().out
