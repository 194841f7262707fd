"""discover() over a fake /dev + /sys tree, and the `biogate capture` command."""

from __future__ import annotations

import json

import cv2
import numpy as np

from biogate.capture import discover
from biogate.cli.main import main


def test_discover_lists_video_thermal_and_i2c(tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("video0", "video1", "video10", "i2c-1"):
        (dev / name).write_bytes(b"")
    sysfs = tmp_path / "sys/class/video4linux"
    for node, label in (("video0", "HD USB Camera"), ("video1", "PureThermal (fw:v1.3.0): PureThermal")):
        (sysfs / node).mkdir(parents=True)
        (sysfs / node / "name").write_text(label + "\n")
    i2c = tmp_path / "sys/class/i2c-dev/i2c-1"
    i2c.mkdir(parents=True)
    (i2c / "name").write_text("bcm2835 (i2c@7e804000)\n")
    found = discover(str(tmp_path))
    by_path = {d["path"].rsplit("/", 1)[1]: d for d in found}
    assert [d["path"].rsplit("/", 1)[1] for d in found] == ["video0", "video1", "video10", "i2c-1"]
    assert by_path["video0"]["kind"] == "camera" and by_path["video0"]["uri"].startswith("v4l2://")
    assert by_path["video1"]["kind"] == "thermal" and by_path["video1"]["uri"].startswith("uvc-thermal://")
    assert by_path["video1"]["v4l2"] is None and "not readable" in by_path["video1"]["note"]
    assert by_path["i2c-1"] == {
        "type": "i2c",
        "kind": "i2c-bus",
        "path": str(dev / "i2c-1"),
        "name": "bcm2835 (i2c@7e804000)",
        "uri": "mlx90640://i2c-1",
        "note": "an MLX90640 answers at address 0x33 if present (not probed)",
    }
    assert discover(str(tmp_path / "empty")) == []


def test_capture_command_writes_png_16bit_png_and_npy(tmp_path, capsys):
    out = tmp_path / "rec"
    assert (
        main(
            [
                "capture",
                "synthetic://face?fps=0&width=64&height=48",
                "--frames",
                "3",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert cv2.imread(str(out / "000002.png")).shape == (48, 64, 3)
    lines = (out / "frames.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["format"] == "bgr8"
    assert "blur_sigma" in json.loads(lines[0])["meta"]["truth"]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["delivered"] == 3

    xr = tmp_path / "xr"
    assert (
        main(
            ["capture", "synthetic://xray", "-o", "fps=0", "--frames", "1", "--out", str(xr), "--no-progress"]
        )
        == 0
    )
    img = cv2.imread(str(xr / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert img.dtype == np.uint16 and img.shape == (600, 480)

    th = tmp_path / "th"
    assert (
        main(["capture", "synthetic://thermal?fps=0", "--frames", "2", "--out", str(th), "--no-progress"])
        == 0
    )
    celsius = np.load(th / "000001.npy")
    ck = cv2.imread(str(th / "000001_ck.png"), cv2.IMREAD_UNCHANGED)
    assert celsius.dtype == np.float32 and ck.dtype == np.uint16
    assert np.allclose(ck / 100.0 - 273.15, celsius, atol=0.006)
    assert "wrote 2 frames" in capsys.readouterr().out


def test_capture_command_user_errors_are_one_line(tmp_path, capsys):
    assert main(["capture", "synthetic://face", "--frames", "1", "--out", str(tmp_path), "-o", "speed"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["capture", "v4l2:///dev/video99", "--frames", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such video device" in err
    assert (
        main(
            [
                "capture",
                "synthetic://face?frames=2&fps=0&latest=0",
                "--frames",
                "5",
                "--out",
                str(tmp_path / "s"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "ended after 2 of 5" in capsys.readouterr().out
