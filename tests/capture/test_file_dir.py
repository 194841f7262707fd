"""file:// and dir:// read real files: every frame, in order; bad files are clear errors or skipped."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

import biogate
from biogate.capture.registry import open_with
from biogate.errors import SourceError

from .fakes import FakeVideoCapture


def _video(path, n=12, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    assert writer.isOpened()
    for i in range(n):
        img = np.full((size[1], size[0], 3), 0, np.uint8)
        cv2.putText(img, str(i), (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
        img[:, :, 2] = i * 20
        writer.write(img)
    writer.release()
    return path


def test_video_file_gives_every_frame_in_order(tmp_path):
    path = _video(tmp_path / "clip.avi")
    with biogate.open_source(f"file://{path}") as src:
        frames = list(src)
    assert [f.meta["frame_index"] for f in frames] == list(range(12))
    assert [f.seq for f in frames] == list(range(12))
    assert frames[5].format == "bgr8" and frames[5].image.shape == (48, 64, 3)
    red = [int(f.image[..., 2].mean()) for f in frames]
    assert red == sorted(red)  # order preserved
    assert src.dropped == 0 and frames[3].meta["pos_ms"] == pytest.approx(120.0)


def test_video_realtime_paces_at_container_fps(tmp_path):
    path = _video(tmp_path / "clip.avi", n=4)
    with biogate.open_source(f"file://{path}?realtime=1") as src:
        stamps = [f.t_capture for f in src]
    assert np.allclose(np.diff(stamps) / 1e6, 40.0, atol=0.5)


def test_zero_byte_missing_and_truncated_videos(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match=r"empty\.mp4.*empty"):
        biogate.open_source(f"file://{empty}")
    with pytest.raises(SourceError, match="does not exist"):
        biogate.open_source(f"file://{tmp_path}/nope.mp4")
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    with pytest.raises(SourceError, match=r"cannot decode.*garbage\.avi"):
        biogate.open_source(f"file://{garbage}")


def test_truncated_stream_ends_early_with_warning_naming_file(tmp_path, caplog):
    path = tmp_path / "cut.avi"
    path.write_bytes(b"x")
    frames = [np.zeros((4, 4, 3), np.uint8)] * 3

    class Truncated(FakeVideoCapture):
        def get(self, prop):
            return 10.0 if prop == cv2.CAP_PROP_FRAME_COUNT else 0.0

    fake = Truncated(lambda i: frames[i] if i < 3 else None)
    with caplog.at_level(logging.WARNING, "biogate.capture"), open_with(
        f"file://{path}", {"capture_factory": lambda p: fake}
    ) as src:
        got = list(src)
    assert len(got) == 3 and src.stats()["truncated"] == 1
    assert "cut.avi ended after 3 of 10 frames" in caplog.text


def test_dir_sorted_formats_and_corrupt_file_skipped(tmp_path, caplog):
    cv2.imwrite(str(tmp_path / "b.png"), np.full((8, 8, 3), 2, np.uint8))
    cv2.imwrite(str(tmp_path / "a.png"), np.full((8, 8), 1, np.uint8))
    cv2.imwrite(str(tmp_path / "c.png"), np.full((8, 8), 4000, np.uint16))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING, "biogate.capture"), biogate.open_source(f"dir://{tmp_path}") as src:
        frames = list(src)
    assert [f.meta["path"].rsplit("/", 1)[1] for f in frames] == ["a.png", "b.png", "c.png"]
    assert [f.format for f in frames] == ["gray8", "bgr8", "y16"]
    assert src.stats()["skipped"] == 1 and "bad.jpg" in caplog.text
    with biogate.open_source(f"dir://{tmp_path}?format=xray16&pattern=c.png") as src:
        assert next(iter(src)).format == "xray16"


def test_dir_watch_sees_new_files_and_playback_rate(tmp_path):
    cv2.imwrite(str(tmp_path / "000.png"), np.zeros((4, 4), np.uint8))
    with biogate.open_source(f"dir://{tmp_path}?watch=1&poll_s=0.01") as src:
        assert src.read(timeout=5).meta["path"].endswith("000.png")
        cv2.imwrite(str(tmp_path / ".001.png"), np.ones((4, 4), np.uint8))
        (tmp_path / ".001.png").rename(tmp_path / "001.png")  # atomic publish
        assert src.read(timeout=5).meta["path"].endswith("001.png")
    with biogate.open_source(f"dir://{tmp_path}?fps=100&loop=1") as src:
        stamps = [src.read(timeout=5).t_capture for _ in range(5)]
    assert np.allclose(np.diff(stamps) / 1e6, 10.0, atol=0.5)


def test_dir_missing_folder_is_clear(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        biogate.open_source(f"dir://{tmp_path}/nothing/")
