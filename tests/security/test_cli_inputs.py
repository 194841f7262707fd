"""Issue #16 findings 7 and 9 (CLI side): hostile arguments are one line on stderr and exit 2.

On the old main ``biogate capture --out`` onto a file or under one, ``select --roi`` outside the
frame or negative and ``select --step 0`` raised tracebacks; ``select --fps -3`` gave negative
timestamps; ``capture`` exited 0 after writing no frame; ``file://<a folder>`` said "does not
exist". Every case here runs the real CLI entry point in-process: a traceback fails the test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from biogate.cli.main import main


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A folder of three 64x48 grey frames."""
    import cv2

    folder = tmp_path_factory.mktemp("clip")
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 255, (48, 64), dtype=np.uint8))
    return folder


@pytest.fixture()
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


def one_line_exit_2(argv, capsys, *words):
    """Run the CLI; assert exit 2 with a single stderr line containing ``words``."""
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


# -- finding 7: tracebacks -------------------------------------------------------------------


def test_capture_out_onto_an_existing_file(a_file, capsys):
    one_line_exit_2(
        ["capture", "synthetic://face", "--frames", "1", "--out", a_file], capsys, "--out", "file"
    )


def test_capture_out_under_a_file(a_file, capsys):
    one_line_exit_2(
        ["capture", "synthetic://face", "--frames", "1", "--out", a_file / "sub"], capsys, "--out"
    )


@pytest.mark.parametrize("roi", ["0,0,10000,10000", "-5,-5,10,10", "0,0,0,0", "60,0,10,10"])
def test_select_roi_outside_or_negative(clip, roi, capsys):
    one_line_exit_2(["select", clip, f"--roi={roi}"], capsys, "roi")


@pytest.mark.parametrize("step", ["0", "-1", "100000"])
def test_select_bad_step(clip, step, capsys):
    one_line_exit_2(["select", clip, "--step", step], capsys, "--step")


# -- finding 9: minor ------------------------------------------------------------------------


@pytest.mark.parametrize("fps", ["-3", "0", "nan"])
def test_select_fps_must_be_positive(clip, fps, capsys):
    one_line_exit_2(["select", clip, "--fps", fps, "--json"], capsys, "--fps")


def test_select_timestamps_follow_fps(clip, capsys):
    assert main(["select", str(clip), "--fps", "10", "--every", "1", "--top", "3", "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)["kept"]
    assert sorted(k["t_ms"] for k in kept) == [0.0, 100.0, 200.0]


def test_capture_that_writes_no_frame_fails_and_says_why(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    status = main(["capture", f"dir://{empty}", "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert status != 0 and "without delivering a frame" in err


def test_file_uri_on_a_folder_says_folder_and_suggests_dir(tmp_path, capsys):
    err = one_line_exit_2(["capture", f"file://{tmp_path}", "--out", tmp_path / "o"], capsys, "folder")
    assert "dir://" in err and "does not exist" not in err


# -- beyond the list: every owned subcommand with hostile values ------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["capture", "synthetic://face", "--frames", "0"],
        ["capture", "synthetic://face", "--timeout", "0"],
        ["capture", "synthetic://face", "--timeout", "nan"],
        ["capture", "synthetic://face?fps=nan"],
        ["capture", "synthetic://face?fps=1e308"],
        ["capture", "synthetic://face?width=100000&height=100000"],
        ["capture", "synthetic://face", "-o", "fps"],
        ["select", "{clip}", "--every", "0"],
        ["select", "{clip}", "--top", "0"],
        ["select", "{clip}", "--window", "-1"],
        ["select", "{missing}"],
        ["select", "{file}"],
        ["run", "--config", "{missing}"],
        ["run", "--config", "{tmp}"],
        ["run", "--config", "{file}"],
        ["run", "--config", "{file}", "--duration", "-1"],
        ["run", "--config", "{file}", "--stats-every", "nan"],
        ["identify", "{clip}", "--gallery", "{missing}", "--top-k", "0"],
        ["demo", "--select", "--every", "0"],
        ["demo", "--fps", "nan"],
        ["demo", "--fps", "0"],
        ["demo", "--workdir", "{file}"],
        ["demo", "--cache", "{file}/sub"],
    ],
)
def test_hostile_arguments_are_one_line(argv, clip, a_file, tmp_path, capsys):
    names = {"clip": clip, "missing": tmp_path / "missing", "file": a_file, "tmp": tmp_path}
    argv = [a.format(**names) for a in argv]
    if argv[0] == "capture":
        argv += ["--out", str(tmp_path / "out"), "--no-progress"]
    one_line_exit_2(argv, capsys)


@pytest.mark.parametrize("threshold", ["-1", "0", "1.5", "nan"])
def test_identify_threshold_is_a_cosine(clip, threshold, tmp_path, capsys):
    argv = ["identify", clip, "--gallery", tmp_path / "g.db", "--threshold", threshold]
    one_line_exit_2(argv, capsys, "--threshold", "(0, 1]")


def test_capture_refuses_to_overwrite_an_earlier_capture(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["capture", "synthetic://face", "--frames", "1", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    one_line_exit_2(
        ["capture", "synthetic://face", "--frames", "1", "--out", out, "--no-progress"], capsys, "already"
    )


@pytest.mark.parametrize("argv", [["--opset", "5"], ["--calib-samples", "0"], ["--max-retries", "-1"]])
def test_export_arguments_are_checked_before_any_build(argv, capsys):
    pytest.importorskip("torch")
    one_line_exit_2(["export", "face_embed_dlib", *argv], capsys, argv[0])
