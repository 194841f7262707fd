"""v4l2:// — fast clear errors for missing devices; the read path via a recorded file."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

import biogate
from biogate.capture.registry import open_with
from biogate.errors import ConfigError, SourceDisconnected, SourceError

from .fakes import FakeVideoCapture
from .test_file_dir import _video


def test_missing_device_errors_fast_naming_the_uri():
    t0 = time.monotonic()
    with pytest.raises(SourceError) as info:
        biogate.open_source("v4l2:///dev/video97?width=640")
    assert time.monotonic() - t0 < 1.0
    assert "v4l2:///dev/video97?width=640" in str(info.value) and "no such video device" in str(info.value)
    with pytest.raises(SourceError, match="/dev/video98"):
        biogate.open_source("v4l2://98")


def test_node_that_opencv_cannot_open(tmp_path):
    node = tmp_path / "video0"
    node.write_bytes(b"")
    with pytest.raises(SourceError, match="cannot open"):
        biogate.open_source(f"v4l2://{node}")  # a regular file is not a V4L2 node


def test_recorded_clip_through_the_v4l2_read_path(tmp_path):
    """A recorded clip stands in for the camera: OpenCV decodes it through the same read() path."""
    clip = _video(tmp_path / "rec.avi", n=8)
    node = tmp_path / "video0"
    node.write_bytes(b"")
    opened = []

    def factory(device, api):
        assert device == str(node) and api == cv2.CAP_V4L2
        cap = cv2.VideoCapture(str(clip))
        opened.append(cap)
        return cap

    uri = f"v4l2://{node}?width=64&height=48&fps=25&fourcc=MJPG"
    frames = []
    # after the last recorded frame read() fails, exactly as when a camera is unplugged
    with open_with(uri, {"capture_factory": factory}, latest=False) as src, pytest.raises(
        SourceDisconnected, match=r"read from .*video0 failed"
    ):
        for frame in src:
            frames.append(frame)
    assert len(frames) == 8 and [f.seq for f in frames] == list(range(8))
    assert all(f.format == "bgr8" and f.image.shape == (48, 64, 3) for f in frames)
    red = [int(f.image[..., 2].mean()) for f in frames]
    assert red == sorted(red) and opened[0].isOpened() is False  # released on close


def test_settings_are_applied_and_negotiation_recorded(tmp_path):
    node = tmp_path / "video0"
    node.write_bytes(b"")
    fake = FakeVideoCapture(lambda i: np.zeros((48, 64, 3), np.uint8))
    with open_with(
        f"v4l2://{node}?width=64&height=48&fps=30&fourcc=YUYV", {"capture_factory": lambda d, a: fake}
    ) as src:
        frame = src.read(timeout=5)
    props = dict(fake.set_calls)
    assert props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"YUYV")
    assert props[cv2.CAP_PROP_FRAME_WIDTH] == 64 and props[cv2.CAP_PROP_FPS] == 30
    assert props[cv2.CAP_PROP_BUFFERSIZE] == 2
    assert frame.meta["negotiated"]["fourcc"] == {"requested": "YUYV", "actual": "YUYV"}
    assert frame.meta["timestamp"] == "host" and fake.released


def test_raw_yuyv_format_is_a_view(tmp_path):
    node = tmp_path / "video0"
    node.write_bytes(b"")
    packed = np.arange(4 * 8 * 2, dtype=np.uint8).reshape(4, 8, 2)
    fake = FakeVideoCapture(lambda i: packed)
    with open_with(f"v4l2://{node}?format=yuyv", {"capture_factory": lambda d, a: fake}) as src:
        frame = src.read(timeout=5)
    assert frame.format == "yuyv" and frame.image.shape == (4, 16) and frame.width == 8
    assert np.shares_memory(frame.image, packed)  # no copy between driver and consumer
    assert np.array_equal(frame.gray(), packed[:, :, 0])
    assert dict(fake.set_calls)[cv2.CAP_PROP_CONVERT_RGB] == 0
    with pytest.raises(ConfigError, match="format=yuyv needs fourcc=YUYV"):
        open_with(f"v4l2://{node}?format=yuyv&fourcc=MJPG", {"capture_factory": lambda d, a: fake})


def test_unplug_then_reconnect(tmp_path):
    node = tmp_path / "video0"
    node.write_bytes(b"")
    caps = []

    def factory(device, api):
        cap = FakeVideoCapture(lambda i: np.full((4, 4, 3), len(caps), np.uint8))
        caps.append(cap)
        return cap

    with open_with(
        f"v4l2://{node}", {"capture_factory": factory}, reconnect=True, backoff_initial_s=0.001
    ) as src:
        assert src.read(timeout=5).image[0, 0, 0] == 1
        node.unlink()
        caps[0].unplugged.set()  # the next read fails; reopening fails while the node is gone
        node.write_bytes(b"")  # plugged back in
        for _ in range(100):
            frame = src.read(timeout=5)
            if "outage" in frame.meta:
                break
        assert frame.image[0, 0, 0] >= 2 and frame.meta["outage"]["attempts"] >= 1
    assert len(caps) >= 2 and caps[0].released


def test_unplug_without_reconnect_is_typed_error(tmp_path):
    node = tmp_path / "video0"
    node.write_bytes(b"")
    fake = FakeVideoCapture(lambda i: np.zeros((4, 4, 3), np.uint8))
    with open_with(f"v4l2://{node}", {"capture_factory": lambda d, a: fake}) as src:
        src.read(timeout=5)
        fake.unplugged.set()
        with pytest.raises(SourceDisconnected, match="unplugged"):
            for _ in range(1000):
                src.read(timeout=5)
