"""Watch a folder for new files, as an X-ray detector's export folder is watched.

A file is *ready* once its size and mtime stayed the same for ``settle_s`` (a detector or a
network copy writes it progressively); ready files are returned once each, sorted by name.
A folder that disappears raises :class:`SourceDisconnected` naming it.

With ``watch=0`` the folder is a finished set: every matching file present when it is read is
delivered at once, in name order, without waiting for it to settle (there is no later poll to
wait for). A file still being written then is the writer's problem: it decodes short and is
skipped with a warning naming it, never a crash.
"""

from __future__ import annotations

import abc
import fnmatch
import os
from typing import Sequence

from ..errors import SourceDisconnected, SourceError
from ..frame import now_ns


class FolderWatcher:
    """New, settled files matching ``patterns`` in ``folder`` (non-recursive)."""

    def __init__(self, folder: str, patterns: Sequence[str], settle_s: float = 0.0, name: str = "") -> None:
        self.folder = folder
        self.patterns = [p.strip().lower() for p in patterns if p.strip()]
        self.settle_ns = int(settle_s * 1e9)
        self.name = name or folder
        self._seen: set[str] = set()
        self._pending: dict[str, tuple[int, int, int]] = {}  # name -> (size, mtime_ns, first seen)

    def check(self) -> None:
        """Raise SourceError when the folder does not exist (at open)."""
        if not os.path.isdir(self.folder):
            raise SourceError(f"{self.name}: folder {self.folder!r} does not exist or is not a folder")

    def _matches(self, name: str) -> bool:
        low = name.lower()
        return any(fnmatch.fnmatch(low, p) for p in self.patterns)

    def poll(self, settle: bool = True) -> list[str]:
        """Paths of files that became ready since the last poll, sorted by name.

        ``settle=False`` returns every new matching file now, settled or not (a finished folder).
        """
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            raise SourceDisconnected(f"{self.name}: folder {self.folder!r} is gone: {exc.strerror}") from exc
        now = now_ns()
        ready: list[str] = []
        for entry in entries:
            if entry.name in self._seen or entry.name.startswith(".") or not self._matches(entry.name):
                continue
            try:
                st = entry.stat()
            except OSError:  # deleted between scandir and stat
                continue
            if not entry.is_file():
                continue
            if settle and not self._settled(entry.name, st.st_size, st.st_mtime_ns, now):
                continue
            self._pending.pop(entry.name, None)
            self._seen.add(entry.name)
            ready.append(entry.path)
        return sorted(ready)

    def _settled(self, name: str, size: int, mtime_ns: int, now: int) -> bool:
        """True once ``name`` kept its size and mtime for ``settle_s`` (tracked across polls)."""
        first = self._pending.get(name)
        if first is None or first[:2] != (size, mtime_ns):
            self._pending[name] = (size, mtime_ns, now)
            return self.settle_ns <= 0
        return now - first[2] >= self.settle_ns

    def forget(self) -> None:
        """Make every file new again (``loop`` playback)."""
        self._seen.clear()
        self._pending.clear()


class FolderSource(abc.ABC):
    """Mixin for :class:`~biogate.capture.source.Source` drivers that read one frame per file.

    The driver sets ``self.watcher`` (or ``self.single_file``) in ``__init__`` and implements
    ``_decode(path) -> Frame``; a decode failure (corrupt, truncated, wrong size) is skipped
    with a warning naming the file. Options used: ``watch``, ``poll_s``, ``loop``, ``fps``.
    """

    watcher: FolderWatcher
    single_file: str = ""

    def _folder_init(self) -> None:
        self._queue: list[str] = []
        self._decoded_any = False
        if self.single_file:
            self._queue = [self.single_file]

    def _open(self) -> None:
        if self.single_file:
            if not os.path.isfile(self.single_file):
                raise SourceError(f"{self.name}: file {self.single_file!r} does not exist")  # type: ignore[attr-defined]
            return
        self.watcher.check()

    @abc.abstractmethod
    def _decode(self, path: str):
        """Read one file of the folder into a frame."""

    def _grab(self):
        opts = self.options  # type: ignore[attr-defined]
        while not self.stopping:  # type: ignore[attr-defined]
            if self._queue:
                path = self._queue.pop(0)
                try:
                    frame = self._decode(path)
                except SourceError as exc:
                    self._skip(path, str(exc))  # type: ignore[attr-defined]
                    continue
                except (OSError, ValueError, EOFError) as exc:
                    self._skip(path, f"{type(exc).__name__}: {exc}")  # type: ignore[attr-defined]
                    continue
                if frame is None:
                    continue
                self._decoded_any = True
                t_capture = self._pace(float(opts.get("fps") or 0))  # type: ignore[attr-defined]
                if t_capture is None:
                    return None
                if float(opts.get("fps") or 0) > 0:
                    frame.t_capture = t_capture
                return frame
            if self.single_file:
                if opts.get("loop") and self._decoded_any:
                    self._queue = [self.single_file]
                    continue
                return None
            watch = bool(opts.get("watch"))
            new = self.watcher.poll(settle=watch)  # watch=0: the folder is finished, take all now
            if new:
                self._queue.extend(new)
                continue
            if opts.get("loop") and self._decoded_any:
                self.watcher.forget()
                continue
            if not watch:
                return None
            if not self._wait(float(opts.get("poll_s") or 0.2)):  # type: ignore[attr-defined]
                return None
        return None
