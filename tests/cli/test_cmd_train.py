"""``biogate train``: the catalogue without torch, one clear line for every user mistake."""

from __future__ import annotations

import subprocess
import sys

import pytest

from biogate.cli.main import main
from tests.exporters.training import tiny_layouts as T

NO_TORCH = (
    "import sys; sys.modules['torch'] = None; from biogate.cli.main import main; sys.exit(main({argv!r}))"
)


def _no_torch(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH.format(argv=argv)], capture_output=True, text=True, timeout=120
    )


def test_help_lists_models_and_layouts_without_torch():
    done = _no_torch(["train", "--help"])
    assert done.returncode == 0, done.stderr
    for name in (
        "face_detect_yolo",
        "face_liveness",
        "face_embed_dlib",
        "face_sr",
        "face_sr_rdn",
        "face_refine",
    ):
        assert name in done.stdout
    for name in ("thermal_face", "palm_sr", "palm_liveness", "palm_liveness_raw", "face_inversion_dlib128"):
        assert name in done.stdout
    for kind in ("widerface", "folders", "lfw-pairs", "pad-folders", "thermal", "palm-dicom"):
        assert f"\n  {kind} " in done.stdout
    assert "--nproc" in done.stdout and "torchrun" in done.stdout


def test_missing_torch_is_one_line_naming_the_extra(tmp_path):
    T.write_folders(tmp_path / "f", identities=3)
    done = _no_torch(
        ["train", "face_sr", "--data", f"folders:{tmp_path / 'f'}", "--out", str(tmp_path / "o")]
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "biogate train: error: biogate train needs the training extra: pip install 'biogate[train]' "
        "(torch is not installed)"
    ]


def test_model_options_are_listed(capsys):
    assert main(["train", "face_liveness", "--options"]) == 0
    out = capsys.readouterr().out
    assert "config=tiny" in out and "delta_norm=none" in out and "target_bpcer=0.05" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["face_sr"], "give --data KIND:DIR"),
        (
            ["no_such_model", "--data", "folders:{f}"],
            "unknown model 'no_such_model'; trainable: face_detect_any, face_detect_yolo",
        ),
        (["face_detect_yolo", "--data", "folders:{f}"], "choose from widerface, composites"),
        (
            ["face_sr", "--data", "folders:{f}", "--set", "widht=2"],
            "--set widht: unknown option; this model takes",
        ),
        (["face_sr", "--data", "folders:{f}", "--set", "batch=many"], "--set batch=many: expected a int"),
        (["face_sr", "--data", "folders:{f}", "--batch", "5", "--nproc", "2"], "not divisible by --nproc 2"),
        (["face_sr", "--data", "folders:{f}", "--folds", "9"], "9 identity folds: choose 3 to 6"),
        (["face_sr", "--data", "folders:{f}", "--resume"], "--resume: no checkpoint at"),
        (["face_sr", "--data", "lfw-pairs:{f}"], "choose from folders, portraits"),
    ],
)
def test_user_mistakes_are_one_clear_line(args, message, tmp_path, capsys):
    root = T.write_folders(tmp_path / "f", identities=6)
    argv = ["train", *(a.format(f=root) for a in args)]
    if "--out" not in argv and argv[2:3] != []:
        argv += ["--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("biogate train: error: ") and message in err[0], err
