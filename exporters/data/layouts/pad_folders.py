"""``pad-folders:DIR``: genuine and attack presentations by species (OULU-NPU / CelebA-Spoof style).

::

    DIR/genuine/<identity>/<image>            bona fide presentations (face crops)
    DIR/attack/<species>/<identity>/<image>   attack presentations of one PAI species (print, replay, ...)

Each item's label is ``"bona_fide"`` or its species. With per-identity folders the data can be
split by identity (liveness training takes the genuine images of the training identities only and
is tested on the held-out identities' genuine and attack presentations); without them (images
directly in ``genuine/`` or ``attack/<species>/``) every image is its own identity, which is only
fit for evaluation (``--eval pad-folders:DIR``), never for a training split.
"""

from __future__ import annotations

from pathlib import Path

from biogate.errors import ConfigError

from .base import DataSet, Item, file_reader, file_size, folder, image_files

BONA_FIDE = "bona_fide"


def _items(root: Path, sub: Path, label: str) -> tuple[list[Item], list[int]]:
    files = image_files(sub)
    if not files:
        raise ConfigError(f"pad-folders: {sub} holds no images")
    items, sizes = [], []
    for path in files:
        rel = path.relative_to(sub)
        identity = rel.parts[0] if len(rel.parts) > 1 else f"{label}/{rel.as_posix()}"
        items.append(Item(path.relative_to(root).as_posix(), identity, label))
        sizes.append(file_size(path))
    return items, sizes


def load_pad_folders(arg: str, spec: str) -> DataSet:
    """Parse ``genuine/`` and every ``attack/<species>/``; ``extra["species"]`` lists the species."""
    root = folder(arg, "pad-folders")
    genuine, attack = root / "genuine", root / "attack"
    if not genuine.is_dir():
        raise ConfigError(f"pad-folders: missing {genuine} (bona fide presentations)")
    if not attack.is_dir():
        raise ConfigError(f"pad-folders: missing {attack} (one sub-folder per attack species)")
    items, sizes = _items(root, genuine, BONA_FIDE)
    species = sorted(p.name for p in attack.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not species:
        raise ConfigError(f"pad-folders: {attack} has no species sub-folders (attack/<species>/...)")
    if BONA_FIDE in species:
        raise ConfigError(f"pad-folders: {attack / BONA_FIDE}: {BONA_FIDE!r} is not a valid species name")
    for name in species:
        more, more_sizes = _items(root, attack / name, name)
        items += more
        sizes += more_sizes
    per_identity = any("/" not in it.identity for it in items)
    return DataSet(
        "pad-folders",
        spec,
        root,
        tuple(items),
        file_reader(root),
        extra={"species": species, "per_identity": per_identity},
        sizes=tuple(sizes),
    )
