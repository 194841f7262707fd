"""``lfw-pairs:DIR``: the LFW verification protocol, for TAR at FAR and the ROC of a face embedder.

::

    DIR/pairs.txt                          LFW's pairs file (View 2: "10 300"; View 1: "1100")
    DIR/<name>/<name>_<NNNN>.jpg           one folder per person, as the LFW tarball unpacks

``pairs.txt`` starts with ``folds pairs`` (or a single count for View 1), then per fold ``pairs``
matched lines ``name i j`` followed by ``pairs`` mismatched lines ``name1 i name2 j``. Every line
is checked, and every image it names must exist.
"""

from __future__ import annotations

from pathlib import Path

from biogate.errors import ConfigError

from .base import DataSet, Item, file_reader, file_size, folder


def _image(root: Path, pairs: Path, line: int, name: str, number: str) -> str:
    try:
        k = int(number)
    except ValueError:
        raise ConfigError(f"{pairs} line {line}: image number {number!r} is not an integer") from None
    key = f"{name}/{name}_{k:04d}.jpg"
    if not (root / key).is_file():
        raise ConfigError(f"{pairs} line {line}: {root / key} does not exist")
    return key


def load_lfw_pairs(arg: str, spec: str) -> DataSet:
    """Parse ``pairs.txt``; ``extra["pairs"]`` holds ``(item a, item b, same, fold)`` per pair."""
    root = folder(arg, "lfw-pairs")
    pairs_file = root / "pairs.txt"
    if not pairs_file.is_file():
        raise ConfigError(f"lfw-pairs: missing {pairs_file}")
    lines = [ln.split() for ln in pairs_file.read_text(encoding="utf-8", errors="replace").splitlines()]
    try:
        header = [int(v) for v in lines[0]]
    except (IndexError, ValueError):
        raise ConfigError(f"{pairs_file} line 1: expected 'folds pairs' or a pair count") from None
    folds, per_fold = (1, header[0]) if len(header) == 1 else (header[0], header[1])
    body = [(n + 2, f) for n, f in enumerate(lines[1:]) if f]
    if len(body) != 2 * folds * per_fold:
        raise ConfigError(
            f"{pairs_file}: the header promises {folds} fold(s) of {per_fold} matched + {per_fold} "
            f"mismatched "
            f"pairs ({2 * folds * per_fold} lines), found {len(body)}"
        )
    index: dict[str, int] = {}
    items: list[Item] = []
    pairs: list[tuple[int, int, bool, int]] = []

    def item(key: str, name: str) -> int:
        if key not in index:
            index[key] = len(items)
            items.append(Item(key, name))
        return index[key]

    for k, (line, fields) in enumerate(body):
        fold, same = k // (2 * per_fold), (k % (2 * per_fold)) < per_fold
        if same and len(fields) == 3:
            a = item(_image(root, pairs_file, line, fields[0], fields[1]), fields[0])
            b = item(_image(root, pairs_file, line, fields[0], fields[2]), fields[0])
        elif not same and len(fields) == 4:
            a = item(_image(root, pairs_file, line, fields[0], fields[1]), fields[0])
            b = item(_image(root, pairs_file, line, fields[2], fields[3]), fields[2])
        else:
            want = "'name i j' (matched pair)" if same else "'name1 i name2 j' (mismatched pair)"
            raise ConfigError(f"{pairs_file} line {line}: expected {want}, got {' '.join(fields)!r}")
        pairs.append((a, b, same, fold))
    sizes = tuple(file_size(root / it.key) for it in items)
    return DataSet(
        "lfw-pairs",
        spec,
        root,
        tuple(items),
        file_reader(root),
        extra={"pairs": pairs, "folds": folds},
        sizes=sizes,
    )
