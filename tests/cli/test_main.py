"""The ``biogate`` CLI: discovery, doctor, select, demo, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from biogate.cli.main import build_parser, main
from biogate.demo_select import make_clip


def test_every_command_module_is_discovered():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert {"doctor", "select", "demo"} <= set(commands)


def test_doctor_json_reports_native_and_providers():
    # In a fresh process: other tests in this one may have imported torch themselves.
    proc = subprocess.run([sys.executable, "-m", "biogate.cli.main", "doctor", "--json"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["native"]["available"] is True
    assert report["native"]["simd"] in {"avx2", "sse2", "neon", "generic"}
    assert "CPUExecutionProvider" in report["onnxruntime"]["working"]
    assert report["torch_loaded_by_sdk"] is False


def _write_clip_folder(folder, sigmas):
    base = skdata.camera()
    for i, sigma in enumerate(sigmas):
        image = base if sigma == 0 else cv2.GaussianBlur(base, (0, 0), sigma)
        cv2.imwrite(str(folder / f"{i:04d}.png"), image)


def test_select_on_image_folder_keeps_sharpest(tmp_path, capsys):
    _write_clip_folder(tmp_path, [3, 3, 3, 2, 3, 3, 0, 3, 3, 1, 3, 3])
    assert main(["select", str(tmp_path), "--every", "3", "--top", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 12 and result["sampled"] == 4
    assert [k["index"] for k in result["kept"]] == [6, 9]


def test_select_on_video_file(tmp_path, capsys):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    assert writer.isOpened()
    clip = make_clip(seconds=1.0)
    for frame in clip.frames:
        writer.write(frame.image)
    writer.release()
    assert main(["select", str(path), "--every", "1", "--top", "1", "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)["kept"][0]["index"]
    assert clip.sigmas[kept] == min(clip.sigmas)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["select", "/no/such/clip.mp4"], "does not exist"),
        (["select", ".", "--roi", "1,2,3"], "--roi"),
        (["select", ".", "--every", "0"], "every"),
    ],
)
def test_user_mistakes_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_empty_folder_and_bad_video_are_clear_errors(tmp_path, capsys):
    assert main(["select", str(tmp_path)]) == 2
    assert "no images" in capsys.readouterr().err
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    assert main(["select", str(bad)]) == 2
    assert "bad.mp4" in capsys.readouterr().err


def test_demo_select_keeps_the_known_sharpest_frames(capsys):
    from biogate.demo_select import run_demo

    assert run_demo() == 0
    assert "least blurred sampled frames: yes" in capsys.readouterr().out


def test_console_script_runs_without_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "biogate.cli.main", "select", "/nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_frame_rejects_wrong_dtype():
    from biogate import ConfigError, Frame

    with pytest.raises(ConfigError, match="uint8"):
        Frame(np.zeros((2, 2), np.float32), "gray8", 0)
    with pytest.raises(ConfigError, match="unknown frame format"):
        Frame(np.zeros((2, 2), np.uint8), "bayer", 0)
