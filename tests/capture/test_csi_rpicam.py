"""csi:// pipeline strings (no GStreamer needed) and rpicam:// through a fake picamera2."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import biogate
from biogate.capture.csi import build_pipeline, gstreamer_available, validate_pipeline
from biogate.capture.registry import open_with
from biogate.errors import BackendUnavailable, ConfigError, SourceDisconnected, SourceError

from .fakes import FakeVideoCapture, make_picamera2_module


def test_pipeline_string_keeps_only_the_freshest_buffer():
    text = build_pipeline(1, 1920, 1080, 30, flip=2, sensor_mode=0, output="bgr8")
    assert text.startswith(
        "nvarguscamerasrc sensor-id=1 sensor-mode=0 ! video/x-raw(memory:NVMM), width=(int)1920"
    )
    assert "framerate=(fraction)30/1" in text and "nvvidconv flip-method=2" in text
    assert text.endswith("appsink name=biogate drop=true max-buffers=1 sync=false")
    assert "videoconvert" in text
    gray = build_pipeline(output="gray8")
    assert "videoconvert" not in gray and "format=(string)GRAY8 ! appsink" in gray
    assert "framerate=(fraction)30000/1001" in build_pipeline(fps=29.97002997)
    names = [name for name, _ in validate_pipeline(text)]
    assert names == ["nvarguscamerasrc", "nvvidconv", "videoconvert", "appsink"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nvarguscamerasrc ! appsink max-buffers=1 sync=false", "drop=true"),
        ("nvarguscamerasrc ! appsink drop=true max-buffers=5 sync=false", "max-buffers=1"),
        ("v4l2src ! appsink drop=true max-buffers=1 sync=false", "unknown"),
        ("nvarguscamerasrc !! appsink", "empty"),
        ("nvarguscamerasrc ! video/x-raw, width=big ! appsink drop=true max-buffers=1 sync=false", "caps"),
        ("nvarguscamerasrc ! nvvidconv flip ! appsink drop=true max-buffers=1 sync=false", "key=value"),
        ("nvarguscamerasrc ! nvvidconv", "end in an appsink"),
    ],
)
def test_bad_pipelines_are_rejected(text, message):
    with pytest.raises(ConfigError, match=message):
        validate_pipeline(text)


def test_bad_csi_options():
    with pytest.raises(ConfigError, match="flip"):
        biogate.open_source("csi://0?flip=9")
    with pytest.raises(ConfigError, match="even"):
        build_pipeline(width=641)
    with pytest.raises(ConfigError, match="sensor index"):
        biogate.open_source("csi://front")
    with pytest.raises(ConfigError, match="max-buffers=1"):
        biogate.open_source(
            "csi://0", pipeline="nvarguscamerasrc ! appsink drop=true max-buffers=3 sync=false"
        )


@pytest.mark.skipif(gstreamer_available(), reason="this OpenCV has GStreamer")
def test_csi_without_gstreamer_says_so():
    with pytest.raises(BackendUnavailable, match="GStreamer"):
        biogate.open_source("csi://0")


def test_csi_reads_through_the_pipeline_with_injected_capture():
    seen = {}

    def factory(pipeline, api):
        seen["pipeline"], seen["api"] = pipeline, api
        return FakeVideoCapture(lambda i: np.full((1080 * 3 // 2, 1920), i % 256, np.uint8))

    with open_with("csi://0?width=1920&height=1080&output=nv12", {"capture_factory": factory}) as src:
        frame = src.read(timeout=5)
    import cv2

    assert seen["api"] == cv2.CAP_GSTREAMER and "format=(string)NV12 ! appsink" in seen["pipeline"]
    assert frame.format == "nv12" and frame.height == 1080 and frame.gray().shape == (1080, 1920)


# ----------------------------------------------------------------------------- rpicam
def test_rpicam_missing_library_is_backend_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import picamera2 -> ImportError
    with pytest.raises(BackendUnavailable, match=r"picamera2.*biogate\[rpi\]"):
        biogate.open_source("rpicam://0")


def test_rpicam_rejects_frames_exposed_before_the_request(monkeypatch):
    module = make_picamera2_module(stale_per_call=2)
    monkeypatch.setitem(sys.modules, "picamera2", module)
    with biogate.open_source("rpicam://0?width=64&height=48&fps=30") as src:
        frames = [src.read(timeout=5) for _ in range(3)]
        stats = src.stats()
    cam = module.Picamera2.instances[0]
    assert cam.config["main"] == {"size": (64, 48), "format": "RGB888"}
    assert cam.config["queue"] is False and cam.config["controls"]["FrameDurationLimits"] == (33333, 33333)
    assert stats["stale_rejected"] >= 2 and cam.released == cam.calls  # every request released
    for f in frames:
        assert f.format == "bgr8" and f.image.shape == (48, 64, 3)
        assert f.meta["timestamp"] == "sensor" and f.t_capture == f.meta["sensor_timestamp_ns"]
        assert f.meta["exposure_us"] == 10000
    assert cam.closed and not cam.started


def test_rpicam_gray_is_the_y_plane_and_errors(monkeypatch):
    module = make_picamera2_module()
    monkeypatch.setitem(sys.modules, "picamera2", module)
    with biogate.open_source("rpicam://0?width=64&height=48&format=gray8") as src:
        frame = src.read(timeout=5)
    assert frame.format == "gray8" and frame.image.shape == (48, 64)
    assert module.Picamera2.instances[0].config["main"]["format"] == "YUV420"
    with pytest.raises(SourceError, match=r"rpicam://3.*cannot open camera 3"):
        biogate.open_source("rpicam://3")


def test_rpicam_camera_that_only_returns_old_frames(monkeypatch):
    module = make_picamera2_module(stale_per_call=50)
    monkeypatch.setitem(sys.modules, "picamera2", module)
    with biogate.open_source("rpicam://0?max_stale=3") as src, pytest.raises(
        SourceDisconnected, match="predate the call"
    ):
        src.read(timeout=5)
