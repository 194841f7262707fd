"""``widerface:DIR``: WIDER FACE as it unpacks, for the face detector.

::

    DIR/WIDER_train/images/<event>/<image>.jpg
    DIR/WIDER_val/images/<event>/<image>.jpg
    DIR/wider_face_split/wider_face_train_bbx_gt.txt
    DIR/wider_face_split/wider_face_val_bbx_gt.txt

Each ground-truth file repeats: the image path (relative to ``images/``), the face count ``N``, then
``N`` lines ``x y w h blur expression illumination invalid occlusion pose`` (one line of zeros when
``N`` is 0). Boxes flagged ``invalid`` or with no area are dropped, as the WIDER evaluation does.
WIDER's own split is kept: ``WIDER_val`` is the held-out test set. Its crowds carry no identities,
so the *event* folder (``0--Parade``) stands for the identity: validation images come from events
of ``WIDER_train`` held out of training.

``composites[:N]``: builtin — N composites per epoch of the offline real faces on face-free
backgrounds (:class:`biogate.exporters.training.train_face_detector.Composer`), what the shipped
``face_detect_yolo`` was trained on; validated on 48 fresh composites, tested on the real group
photograph that is never pasted, at 0/90/180/270°.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biogate.errors import ConfigError

from .base import DataSet, Item, count_arg, file_reader, file_size, folder

PARTS = ("train", "val")


def parse_ground_truth(path: Path, images: Path) -> list[tuple[str, np.ndarray]]:
    """``(image path relative to images/, boxes (K, 4) x0 y0 x1 y1)`` per image of one ``*_bbx_gt.txt``."""
    if not path.is_file():
        raise ConfigError(f"WIDER FACE: missing {path}")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    out: list[tuple[str, np.ndarray]] = []
    i = 0
    while i < len(lines):
        name = lines[i].strip()
        if not name:
            i += 1
            continue
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            raise ConfigError(f"{path} line {i + 1}: expected an image path, got {name!r}")
        if not (images / name).is_file():
            raise ConfigError(f"{path} line {i + 1}: {images / name} does not exist")
        try:
            count = int(lines[i + 1])
        except (IndexError, ValueError):
            raise ConfigError(f"{path} line {i + 2}: expected the face count of {name}") from None
        rows = max(count, 1)  # an image without faces still has one line of zeros
        boxes = []
        for k in range(i + 2, i + 2 + rows):
            fields = lines[k].split() if k < len(lines) else []
            if len(fields) < 4:
                raise ConfigError(f"{path} line {k + 1}: expected 'x y w h ...' for a face of {name}")
            try:
                x, y, w, h = (float(v) for v in fields[:4])
                invalid = int(fields[7]) if len(fields) > 7 else 0
            except ValueError:
                raise ConfigError(f"{path} line {k + 1}: non-numeric face box {lines[k]!r}") from None
            if count and w > 0 and h > 0 and not invalid:
                boxes.append((x, y, x + w, y + h))
        out.append((name, np.array(boxes, np.float32).reshape(-1, 4)))
        i += 2 + rows
    if not out:
        raise ConfigError(f"{path}: no images listed")
    return out


def load_widerface(arg: str, spec: str) -> DataSet:
    """Parse both WIDER FACE parts; ``parts`` holds ``train`` and ``test`` (= ``WIDER_val``) indices."""
    root = folder(arg, "widerface")
    items: list[Item] = []
    sizes: list[int] = []
    parts: dict[str, tuple[int, ...]] = {}
    for part in PARTS:
        images = root / f"WIDER_{part}" / "images"
        if not images.is_dir():
            raise ConfigError(f"WIDER FACE: missing folder {images}")
        gt = root / "wider_face_split" / f"wider_face_{part}_bbx_gt.txt"
        start = len(items)
        for name, boxes in parse_ground_truth(gt, images):
            key = f"WIDER_{part}/images/{name}"
            sizes.append(file_size(root / key))
            items.append(Item(key, name.split("/")[0], boxes))
        parts["train" if part == "train" else "test"] = tuple(range(start, len(items)))
    return DataSet("widerface", spec, root, tuple(items), file_reader(root), parts=parts, sizes=tuple(sizes))


def load_composites(arg: str, spec: str) -> DataSet:
    """``composites[:N]``: N virtual composites (default 4096), 48 validation ones, the held-out photo."""
    n = count_arg(arg, spec, 4096, "composites[:N]", "composites:4096")
    items = [Item(f"composite/train/{i}", "train") for i in range(n)]
    items += [Item(f"composite/val/{i}", "val") for i in range(48)]
    items.append(Item("photo/insightface:t1.jpg", "held-out"))
    parts = {"train": tuple(range(n)), "val": tuple(range(n, n + 48)), "test": (n + 48,)}
    return DataSet("composites", spec, None, tuple(items), parts=parts)
