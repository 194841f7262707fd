"""What every dataset layout gives the trainers: items with identities, a file-list hash, identity splits.

A layout (``widerface:DIR``, ``folders:DIR``, ...) parses and validates a folder the way users
already have it and returns a :class:`DataSet`: one :class:`Item` per sample file, each with the
*identity* it belongs to (a person; an event or a subject where the data has no persons). Splits
are always by identity (:meth:`DataSet.split`), never by image, so no person is both trained on and
tested on. Every error names the file (and line) at fault.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from biogate.errors import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Item:
    """One sample: ``key`` (path relative to the layout root, or a builtin name), its identity, its label."""

    key: str
    identity: str
    label: Any = None


@dataclass(frozen=True)
class Split:
    """An identity-disjoint train / validation / test split of one :class:`DataSet`."""

    train: DataSet
    val: DataSet
    test: DataSet

    def summary(self) -> dict[str, dict[str, int]]:
        return {
            name: {"images": len(part), "identities": len(part.identities)}
            for name, part in (("train", self.train), ("val", self.val), ("test", self.test))
        }


@dataclass(frozen=True)
class DataSet:
    """A parsed, validated layout (or one part of it).

    Attributes:
        kind: the layout name (``folders``, ``widerface``, ...).
        spec: the ``--data`` string it was parsed from.
        root: the folder (``None`` for builtin sources).
        items: every sample.
        reader: ``reader(item)`` loads one sample's image (RGB ``uint8`` for photographs).
        parts: fixed parts the layout itself defines (WIDER FACE's ``train``/``val``), as item indices.
        extra: layout-specific data (LFW pairs, thermal RGB images, generator settings).
        sizes: bytes per item file, part of the file-list hash (empty for builtin sources).
    """

    kind: str
    spec: str
    root: Path | None
    items: tuple[Item, ...]
    reader: Callable[[Item], np.ndarray] | None = None
    parts: dict[str, tuple[int, ...]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    sizes: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    @property
    def identities(self) -> list[str]:
        """The distinct identities, sorted."""
        return sorted({it.identity for it in self.items})

    def read(self, item: Item) -> np.ndarray:
        if self.reader is None:
            raise ConfigError(f"{self.spec}: samples of layout {self.kind!r} are not read one by one")
        return self.reader(item)

    def path(self, item: Item) -> Path:
        if self.root is None:
            raise ConfigError(f"{self.spec}: builtin source, no files")
        return self.root / item.key

    def digest(self) -> str:
        """sha256 of the file list: one ``key, identity, bytes`` line per item, in order."""
        h = hashlib.sha256()
        sizes = self.sizes or (-1,) * len(self.items)
        for it, size in zip(self.items, sizes):
            h.update(f"{it.key}\t{it.identity}\t{size}\n".encode())
        return h.hexdigest()

    def summary(self) -> dict[str, Any]:
        """What the manifest's ``training.data`` records: spec, counts and the file-list hash."""
        return {
            "spec": self.spec,
            "layout": self.kind,
            "images": len(self.items),
            "identities": len(self.identities),
            "files_sha256": self.digest(),
        }

    def subset(self, indices: Sequence[int]) -> DataSet:
        """The items at ``indices`` (same reader and extras; no fixed parts)."""
        idx = [int(i) for i in indices]
        sizes = tuple(self.sizes[i] for i in idx) if self.sizes else ()
        return replace(self, items=tuple(self.items[i] for i in idx), parts={}, sizes=sizes)

    def where(self, keep: Callable[[Item], bool]) -> DataSet:
        """The items for which ``keep(item)`` holds."""
        return self.subset([i for i, it in enumerate(self.items) if keep(it)])

    def split(self, fold: int = 0, folds: int = 5, seed: int = 0) -> Split:
        """Identity-disjoint split: test = identity group ``fold``, val = group ``fold + 1``, train = rest.

        A layout with fixed parts keeps them: all three (the palm simulator's splits), or a ``test``
        part (WIDER FACE's ``val``) with the validation identities drawn from the rest the same way.
        """
        if {"train", "val", "test"} <= set(self.parts):
            train, val, test = (self.subset(self.parts[k]) for k in ("train", "val", "test"))
            return Split(train, val, test)
        if "test" in self.parts:
            rest = self.subset(self.parts["train"])
            test = self.subset(self.parts["test"])
            groups = identity_folds(rest.identities, folds, seed, what=self.spec)
            val_ids = set(groups[fold % folds])
            return Split(
                rest.where(lambda it: it.identity not in val_ids),
                rest.where(lambda it: it.identity in val_ids),
                test,
            )
        if not 0 <= fold < folds:
            raise ConfigError(f"--fold {fold} is outside 0..{folds - 1}")
        groups = identity_folds(self.identities, folds, seed, what=self.spec)
        test_ids, val_ids = set(groups[fold]), set(groups[(fold + 1) % folds])
        return Split(
            self.where(lambda it: it.identity not in test_ids and it.identity not in val_ids),
            self.where(lambda it: it.identity in val_ids),
            self.where(lambda it: it.identity in test_ids),
        )


def identity_folds(identities: Sequence[str], folds: int, seed: int = 4, what: str = "") -> list[list[str]]:
    """The distinct identities shuffled with ``seed`` and dealt round-robin into ``folds`` groups."""
    names = sorted(set(identities))
    if folds < 3 or folds > len(names):
        where = f"{what}: " if what else ""
        raise ConfigError(
            f"{where}{folds} identity folds: choose 3 to {len(names)} ({len(names)} identities exist; "
            "an identity-disjoint train/val/test split needs at least 3)"
        )
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    return [order[k::folds] for k in range(folds)]


def folder(arg: str, kind: str) -> Path:
    """The existing folder named by ``kind:DIR``'s ``DIR``."""
    if not arg:
        raise ConfigError(f"--data {kind}: give the folder, as {kind}:DIR")
    path = Path(arg).expanduser()
    if not path.is_dir():
        raise ConfigError(f"--data {kind}:{arg}: {path} is not a folder")
    return path


def count_arg(arg: str, spec: str, default: int, form: str, example: str) -> int:
    """The positive integer after a builtin layout's colon (``default`` without one)."""
    try:
        value = int(arg) if arg else default
    except ValueError:
        raise ConfigError(f"--data {spec}: expected {form}, e.g. {example}") from None
    if value < 1:
        raise ConfigError(f"--data {spec}: expected {form} with a positive number, e.g. {example}")
    return value


def image_files(root: Path) -> list[Path]:
    """Image files below ``root`` (any depth, hidden files skipped), sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in p.parts[-2:])
    )


def file_size(path: Path) -> int:
    """Bytes of ``path``; an empty file is an error naming it."""
    size = path.stat().st_size
    if size == 0:
        raise ConfigError(f"{path}: empty file")
    return size


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB ``uint8``; a file OpenCV cannot decode is an error naming it."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConfigError(f"{path}: not a readable image")
    return np.ascontiguousarray(bgr[..., ::-1])


def file_reader(root: Path) -> Callable[[Item], np.ndarray]:
    """A reader of RGB photographs relative to ``root``."""

    def read(item: Item) -> np.ndarray:
        return read_rgb(root / item.key)

    return read


__all__ = [
    "IMAGE_SUFFIXES",
    "DataSet",
    "Item",
    "Split",
    "file_reader",
    "file_size",
    "folder",
    "identity_folds",
    "image_files",
    "read_rgb",
]
