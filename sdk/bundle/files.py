"""Read the files of a bundle without ever leaving it: regular files only, no links, no ``..``.

Every name a manifest lists is checked (:func:`check_name`) before it is touched, and every file
is opened component by component relative to the bundle directory with ``O_NOFOLLOW``
(``openat`` where the platform has it), so a symlink anywhere below the bundle directory — to a
file outside, or to another file inside — is refused, naming the file.  The bundle directory
itself is the operator's choice and is resolved once by :func:`biogate.bundle.open_bundle`.

Hashing and size checks read from the descriptor that was opened, so what is verified is what
was read, not whatever a later path lookup would find.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path, PurePosixPath

from ..errors import BundleError

_CHUNK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
#: A FIFO or device named like a model file must not block the open: it is refused after fstat.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
#: openat(2) walk when the platform supports it (Linux, macOS); else an lstat walk.
_OPENAT = os.open in os.supports_dir_fd and bool(_NOFOLLOW) and bool(_DIRECTORY)


class FileMissing(BundleError):
    """A file the manifest lists (or ``manifest.json``/``manifest.sig``) is not in the bundle."""


def check_name(root: Path, name: object) -> PurePosixPath:
    """A manifest file name as a relative POSIX path inside the bundle, or a :class:`BundleError`."""
    if not isinstance(name, str) or not name:
        raise BundleError(
            f"bundle {root}: manifest lists a file name {name!r} that is not a non-empty string"
        )
    if "\\" in name or "\x00" in name or ":" in name:
        raise BundleError(f"bundle {root}: file name {name!r} has a backslash, colon or NUL")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("..", ".", "") for part in name.split("/")):
        raise BundleError(f"bundle {root}: file name {name!r} escapes the bundle directory (absolute or ..)")
    return path


def _not_regular(root: Path, name: str, mode: int) -> BundleError:
    kind = (
        "a symlink" if stat.S_ISLNK(mode) else "a directory" if stat.S_ISDIR(mode) else "not a regular file"
    )
    return BundleError(f"bundle {root}: {name} is {kind}; a bundle holds regular files only")


def _open_openat(root: Path, parts: tuple[str, ...], name: str) -> int:
    dir_fd = os.open(str(root), os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | (_NONBLOCK if last else _DIRECTORY)
            try:
                fd = os.open(part, flags, dir_fd=dir_fd)
            except FileNotFoundError:
                raise FileMissing(f"bundle {root}: file {name} is missing") from None
            except OSError as exc:
                mode = os.lstat(part, dir_fd=dir_fd).st_mode if _exists(part, dir_fd) else 0
                if mode and (stat.S_ISLNK(mode) or not last):
                    where = name if last else f"{'/'.join(parts[: i + 1])} (on the path of {name})"
                    kind = "a symlink" if stat.S_ISLNK(mode) else "not a directory"
                    raise BundleError(
                        f"bundle {root}: {where} is {kind}; a bundle holds regular files only"
                    ) from None
                raise BundleError(f"bundle {root}: file {name} cannot be opened: {exc.strerror}") from None
            os.close(dir_fd)
            dir_fd = fd
        fd, dir_fd = dir_fd, -1
        return fd
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)


def _exists(part: str, dir_fd: int) -> bool:
    try:
        os.lstat(part, dir_fd=dir_fd)
        return True
    except OSError:
        return False


def _open_lstat(root: Path, parts: tuple[str, ...], name: str) -> int:
    path = root
    for i, part in enumerate(parts):
        path = path / part
        try:
            mode = os.lstat(str(path)).st_mode
        except FileNotFoundError:
            raise FileMissing(f"bundle {root}: file {name} is missing") from None
        if stat.S_ISLNK(mode) or (i < len(parts) - 1 and not stat.S_ISDIR(mode)):
            raise _not_regular(root, "/".join(parts[: i + 1]), mode)
    try:
        return os.open(str(path), os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY)
    except OSError as exc:
        raise BundleError(f"bundle {root}: file {name} cannot be opened: {exc.strerror}") from None


def open_regular(root: Path, name: str) -> int:
    """A read-only descriptor of regular file ``name`` inside ``root``; every link on the way is refused."""
    parts = tuple(check_name(root, name).parts)
    fd = (_open_openat if _OPENAT else _open_lstat)(root, parts, name)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _not_regular(root, name, mode)
    return fd


def read_regular(root: Path, name: str, limit: int) -> bytes:
    """The bytes of regular file ``name`` (at most ``limit``; a larger file is an error)."""
    fd = open_regular(root, name)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise BundleError(f"bundle {root}: {name} is larger than {limit} bytes")
    return data


def hash_regular(root: Path, name: str, keep: bool = False) -> tuple[int, str, bytes]:
    """``(size, sha256 hex, bytes or b"")`` of regular file ``name``, read once from one descriptor."""
    fd = open_regular(root, name)
    digest = hashlib.sha256()
    kept = []
    size = 0
    with os.fdopen(fd, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
            size += len(block)
            if keep:
                kept.append(block)
    return size, digest.hexdigest(), b"".join(kept)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (the exporter's side, before signing)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["FileMissing", "check_name", "hash_regular", "open_regular", "read_regular", "sha256_file"]
