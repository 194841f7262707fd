"""xray-raw:// reads headerless 16-bit detector frames in either byte order."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import biogate
from biogate.errors import ConfigError, SourceError

W, H = 6, 4


def frames_data(n):
    return [np.arange(W * H, dtype=np.uint16).reshape(H, W) * (i + 1) for i in range(n)]


def test_little_endian_multi_frame_with_offset(tmp_path):
    data = frames_data(3)
    path = tmp_path / "scan.raw"
    path.write_bytes(b"HDR!" * 4 + b"".join(d.astype("<u2").tobytes() for d in data))
    with biogate.open_source(f"xray-raw://{path}?w={W}&h={H}&offset=16") as src:
        got = list(src)
    assert len(got) == 3 and all(f.format == "xray16" for f in got)
    assert all(np.array_equal(f.image, d) for f, d in zip(got, data))
    assert got[2].meta["frame_in_file"] == 2 and got[2].meta["frames_in_file"] == 3


def test_big_endian_bits_and_invert(tmp_path):
    data = np.array([[0, 1, 4095, 2048]], np.uint16)
    path = tmp_path / "be.raw"
    path.write_bytes(data.astype(">u2").tobytes())
    with biogate.open_source(f"xray-raw://{path}?w=4&h=1&endian=big") as src:
        assert np.array_equal(next(iter(src)).image, data)
    with biogate.open_source(f"xray-raw://{path}?w=4&h=1&endian=big&bits=12&invert=1") as src:
        img = next(iter(src)).image
    assert img.dtype == np.uint16 and list(img[0]) == [65535, 65535 - 16, 65535 - 65520, 65535 - 32768]


def test_wrong_size_is_clear_error_or_warning(tmp_path, caplog):
    small = tmp_path / "small.raw"
    small.write_bytes(b"\x00" * 10)
    with pytest.raises(SourceError, match=r"small\.raw.*less than one 6x4"):
        biogate.open_source(f"xray-raw://{small}?w={W}&h={H}")
    trailing = tmp_path / "trailing.raw"
    trailing.write_bytes(frames_data(1)[0].tobytes() + b"\x01\x02\x03")
    with caplog.at_level(logging.WARNING, "biogate.capture"), biogate.open_source(
        f"xray-raw://{trailing}?w={W}&h={H}"
    ) as src:
        assert len(list(src)) == 1
    assert "trailing.raw" in caplog.text and "3 trailing bytes" in caplog.text
    with pytest.raises(ConfigError, match="w and h are required"):
        biogate.open_source(f"xray-raw://{trailing}")


def test_watched_folder_skips_wrong_size_files(tmp_path, caplog):
    (tmp_path / "a.raw").write_bytes(frames_data(1)[0].tobytes())
    (tmp_path / "b.raw").write_bytes(b"\x00" * 7)
    uri = f"xray-raw://{tmp_path}?w={W}&h={H}&settle_s=0&poll_s=0.01"
    with caplog.at_level(logging.WARNING, "biogate.capture"), biogate.open_source(uri) as src:
        assert src.read(timeout=5).meta["path"].endswith("a.raw")
        (tmp_path / ".c.raw").write_bytes(frames_data(2)[1].tobytes())
        (tmp_path / ".c.raw").rename(tmp_path / "c.raw")  # atomic publish
        f = src.read(timeout=5)
    assert f.meta["path"].endswith("c.raw") and np.array_equal(f.image, frames_data(2)[1])
    assert "b.raw" in caplog.text and "does not fit" in caplog.text


def test_folder_watcher_reads_a_file_only_once_it_stopped_growing(tmp_path, monkeypatch):
    from biogate.capture import _folder

    clock = [0]
    monkeypatch.setattr(_folder, "now_ns", lambda: clock[0])
    watcher = _folder.FolderWatcher(str(tmp_path), ["*.raw"], settle_s=0.5)
    path = tmp_path / "a.raw"
    path.write_bytes(b"12")
    assert watcher.poll() == []
    clock[0] = 400_000_000
    path.write_bytes(b"1234")  # still being written
    assert watcher.poll() == []
    clock[0] = 800_000_000  # unchanged for 0.4 s only
    assert watcher.poll() == []
    clock[0] = 950_000_000
    assert watcher.poll() == [str(path)]
    assert watcher.poll() == []  # once
