"""``biogate detect``: the JSON schema, the drawing, and one clear error (exit 2) on bad input."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from biogate.cli.main import main


def test_json_schema_and_drawing(detector_bundles, tmp_path, capsys):
    import skimage.data

    image = np.ascontiguousarray(np.rot90(skimage.data.astronaut(), 1)[:, :, ::-1])  # face on its side
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), image)
    out, drawn = tmp_path / "faces.json", tmp_path / "faces.png"
    code = main(
        ["detect", str(path), "--bundles", str(detector_bundles), "--json", str(out), "--draw", str(drawn)]
    )
    assert code == 0
    doc = json.loads(out.read_text())
    assert set(doc) == {"faces"} and len(doc["faces"]) >= 1
    for face in doc["faces"]:
        assert set(face) == {"box", "quad", "landmarks", "score"}
        assert len(face["box"]) == 4 and face["box"][0] < face["box"][2] and face["box"][1] < face["box"][3]
        assert np.array(face["quad"]).shape == (4, 2) and np.array(face["landmarks"]).shape == (5, 2)
        assert 0.0 <= face["score"] <= 1.0
        assert all(0 <= x <= 512 and 0 <= y <= 512 for x, y in face["landmarks"])  # input-image pixels
    assert cv2.imread(str(drawn)).shape == image.shape
    assert "face 0" in capsys.readouterr().out


def test_no_face_exits_4(detector_bundles, tmp_path):
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((200, 300, 3), 128, np.uint8))
    assert main(["detect", str(path), "--bundles", str(detector_bundles), "--rotate", "upright"]) == 4


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: str(d / "missing.jpg"), "is not a file"),
        (lambda d: (d / "notes.txt").write_text("hello") and str(d / "notes.txt"), "not an image"),
        (lambda d: "nosuchscheme://x", "nosuchscheme"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    source = make(tmp_path)
    assert main(["detect", source, "--bundles", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_bundles_folder_without_the_detector_is_exit_2(tmp_path, capsys):
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
    assert main(["detect", str(path), "--bundles", str(tmp_path)]) == 2
    assert "face_detect_any" in capsys.readouterr().err
