"""``biogate enroll`` and ``biogate gallery``: end to end through the CLI entry point."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from biogate.cli import cmd_enroll
from biogate.cli.main import main
from biogate.errors import ConfigError, GalleryError


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("BIOGATE_GALLERY_KEY", raising=False)
    (tmp_path / "keys").mkdir()
    (tmp_path / "data").mkdir()
    key = tmp_path / "keys" / "gallery.key"
    assert main(["gallery", "keygen", "--out", str(key)]) == 0
    rng = np.random.default_rng(0)
    people = rng.standard_normal((3, 128)).astype(np.float32)
    files = {}
    for i, who in enumerate(("ada", "bob", "cy")):
        files[who] = tmp_path / f"{who}.npy"
        np.save(files[who], people[i] + 0.05 * rng.standard_normal((2, 128)).astype(np.float32))
    return tmp_path / "data" / "faces.db", key, people, files


def test_enroll_list_search_verify_delete(setup, tmp_path: Path, capsys) -> None:
    db, key, people, files = setup
    base = ["--gallery", str(db), "--key-file", str(key)]
    for who in ("ada", "bob", "cy"):
        code = main(["enroll", *base, "--id", who, "--name", who.title(), "--embeddings", str(files[who])])
        assert code == 0
    assert (
        main(
            [
                "enroll",
                *base,
                "--id",
                "ada",
                "--name",
                "x",
                "--meta",
                "team=9",
                "--embeddings",
                str(files["bob"]),
            ]
        )
        == 2
    )
    assert "already enrolled" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["gallery", "list", *base]) == 0
    listing = capsys.readouterr().out
    assert "ada\tAda\t2 template(s)" in listing and "3 identities, 6 templates, 128-d" in listing

    probe = tmp_path / "probe.npy"
    np.save(probe, people[1])
    assert main(["gallery", "search", *base, "--embedding", str(probe), "--threshold", "0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("bob\tBob\t0.99") and len(out) == 1
    assert (
        main(["gallery", "verify", *base, "--id", "bob", "--embedding", str(probe), "--threshold", "0.5"])
        == 0
    )
    assert capsys.readouterr().out.startswith("ACCEPT bob")
    assert (
        main(["gallery", "verify", *base, "--id", "ada", "--embedding", str(probe), "--threshold", "0.5"])
        == 1
    )
    assert capsys.readouterr().out.startswith("REJECT ada")

    assert (
        main(["enroll", *base, "--id", "bob", "--name", "Bob", "--add", "--embeddings", str(files["cy"])])
        == 0
    )
    assert "4 template(s)" in capsys.readouterr().out
    assert main(["gallery", "delete", *base, "--id", "bob"]) == 0
    assert "its 4 template(s)" in capsys.readouterr().out
    assert main(["gallery", "search", *base, "--embedding", str(probe), "--threshold", "0.5"]) == 1


def test_user_mistakes_are_one_line_errors(setup, tmp_path: Path, capsys) -> None:
    db, key, _, files = setup
    args = ["enroll", "--gallery", str(db), "--id", "a", "--name", "A", "--embeddings", str(files["ada"])]
    assert main(args) == 2
    assert "no gallery key" in capsys.readouterr().err
    assert main([*args, "--key-file", str(key)]) == 0
    other = tmp_path / "keys" / "other.key"
    main(["gallery", "keygen", "--out", str(other)])
    assert main(["gallery", "keygen", "--out", str(other)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["gallery", "list", "--gallery", str(db), "--key-file", str(other)]) == 2
    assert "wrong key" in capsys.readouterr().err
    assert (
        main(["enroll", "--gallery", str(db), "--key-file", str(key), "--id", "b", "--name", "B", "nope.jpg"])
        == 2
    )
    assert "photo 'nope.jpg' does not exist" in capsys.readouterr().err
    bad = ["enroll", "--gallery", str(db), "--key-file", str(key), "--id", "c", "--name", "C"]
    assert main([*bad, "--embeddings", str(files["ada"]), "--meta", "novalue"]) == 2
    assert "not KEY=VALUE" in capsys.readouterr().err
    assert main(bad) == 2
    assert "exactly one" in capsys.readouterr().err


def test_threshold_lock_timeout_and_folder_messages(setup, tmp_path: Path, capsys) -> None:
    db, key, people, files = setup
    base = ["--gallery", str(db), "--key-file", str(key)]
    assert main(["enroll", *base, "--id", "ada", "--name", "Ada", "--embeddings", str(files["ada"])]) == 0
    assert main(["gallery", "threshold", *base]) == 0
    assert "no threshold stored" in capsys.readouterr().out
    assert main(["gallery", "threshold", *base, "--set", "0.93"]) == 0
    assert "threshold 0.93" in capsys.readouterr().out
    for bad in ("0", "1.5", "-1"):
        assert main(["gallery", "threshold", *base, "--set", bad]) == 2
        assert "(0, 1]" in capsys.readouterr().err
    probe = tmp_path / "probe.npy"
    np.save(probe, people[0])
    assert main(["gallery", "verify", *base, "--id", "ada", "--embedding", str(probe)]) == 0
    assert "threshold 0.9300" in capsys.readouterr().out  # the stored one: no embedder bundle needed
    assert main(["gallery", "search", *base, "--embedding", str(probe), "--threshold", "2"]) == 2
    assert main(["gallery", "threshold", *base, "--clear"]) == 0
    with pytest.raises(SystemExit) as exit_:  # argparse's own one-line usage error
        main(["gallery", "list", *base, "--lock-timeout", "-1"])
    assert exit_.value.code == 2 and ">= 0 seconds" in capsys.readouterr().err
    folder = tmp_path / "photos"
    folder.mkdir()
    assert main(["enroll", *base, "--id", "bob", "--name", "Bob", str(folder)]) == 2
    assert "is a folder; give the image files in it" in capsys.readouterr().err


@dataclass
class _Det:
    size: float
    marker: int


@dataclass
class _Emb:
    embedding: np.ndarray


class _FakeDetector:
    """Stands in for MTCNN: reports one face per bright blob drawn in the test image."""

    def detect(self, image, order="RGB"):
        img = image if image.ndim == 2 else image[..., 0]
        level = int(img.max())
        if level == 0:
            return []
        count, _, stats, _ = cv2.connectedComponentsWithStats((img >= level // 2).astype(np.uint8))
        return [
            _Det(float(stats[i, cv2.CC_STAT_WIDTH]), int(stats[i, cv2.CC_STAT_LEFT])) for i in range(1, count)
        ]


class _FakeEmbedder:
    def embed(self, image, faces, order="RGB"):
        vec = np.zeros(128, np.float32)
        vec[faces[0].marker % 128] = 1.0
        vec[(int(image.dtype.itemsize) + 100) % 128] = 0.5  # the bit depth reached the embedder
        return [_Emb(vec)]


def _photo(path: Path, blobs, dtype=np.uint8, channels: int = 1) -> str:
    top = np.iinfo(dtype).max
    img = np.zeros((120, 160) if channels == 1 else (120, 160, channels), dtype)
    for x, w in blobs:
        img[30 : 30 + w, x : x + w] = top
    cv2.imwrite(str(path), img)
    return str(path)


def test_embed_photos_handles_grey_16bit_no_face_and_several_faces(tmp_path: Path) -> None:
    det, emb = _FakeDetector(), _FakeEmbedder()
    grey = _photo(tmp_path / "grey.png", [(10, 30)])
    deep = _photo(tmp_path / "deep.png", [(20, 30)], np.uint16)
    colour = _photo(tmp_path / "colour.jpg", [(40, 40)], channels=3)
    out = cmd_enroll.embed_photos([grey, deep, colour], det, emb)
    assert out.shape == (3, 128)
    assert out[0, 10] == 1 and out[1, 20] == 1 and out[2, 40] == 1
    assert out[1, 102] == 0.5 and out[0, 101] == 0.5  # 16-bit read as 16-bit, 8-bit as 8-bit
    empty = _photo(tmp_path / "empty.png", [])
    with pytest.raises(GalleryError, match=r"no face found in .*empty\.png"):
        cmd_enroll.embed_photos([empty], det, emb)
    crowd = _photo(tmp_path / "crowd.png", [(5, 20), (60, 40)])
    with pytest.raises(GalleryError, match=r"2 faces in .*crowd\.png"):
        cmd_enroll.embed_photos([crowd], det, emb)
    assert cmd_enroll.embed_photos([crowd], det, emb, largest_face=True)[0, 60] == 1
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ConfigError, match="not an image"):
        cmd_enroll.read_photo(str(tmp_path / "text.png"))


def test_enroll_from_photos_with_an_injected_pipeline(setup, tmp_path: Path) -> None:
    db, key, _, _ = setup
    photos = [_photo(tmp_path / f"p{i}.png", [(10 + 30 * i, 20)]) for i in range(3)]
    args = argparse.Namespace(
        images=photos,
        embeddings=None,
        gallery=str(db),
        key_file=str(key),
        identity_id="ada",
        name="Ada",
        meta=["badge=42", "site=north"],
        add=False,
        bundles="unused",
        embedder=None,
        largest_face=False,
    )
    result = cmd_enroll.enroll(
        args, embed=lambda paths: cmd_enroll.embed_photos(paths, _FakeDetector(), _FakeEmbedder())
    )
    assert result == {"id": "ada", "name": "Ada", "templates": 3, "gallery": str(db), "identities": 1}
    from biogate.gallery import Gallery, GalleryKey

    with Gallery(db, GalleryKey.from_file(key)) as gallery:
        assert gallery.get("ada").meta == {"badge": 42, "site": "north"}
        assert gallery.templates("ada")[2, 70] == 1
