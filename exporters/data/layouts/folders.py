"""``folders:DIR`` (one sub-folder per identity) and ``portraits`` (the offline real faces, by person).

``folders:DIR``::

    DIR/<identity>/<image>        any depth below the identity folder; jpg, png, bmp, ppm, tif, webp

Images are face crops (some background around the face, the same way for every image). Used for
genuine-only liveness training, embedder fine-tuning, super-resolution and identification reports.

``portraits``: every full-resolution real face available offline (``biogate.exporters.data.face_data``
with its fetched extras: 15 faces of 14 people), each labelled with its person; what the shipped
liveness, SR and refinement weights were trained on.
"""

from __future__ import annotations

import numpy as np

from biogate.errors import ConfigError

from .base import IMAGE_SUFFIXES, DataSet, Item, file_reader, file_size, folder, image_files


def load_folders(arg: str, spec: str, kind: str = "folders") -> DataSet:
    """Parse ``folders:DIR``; an image outside an identity folder or an empty file is an error."""
    root = folder(arg, kind)
    items, sizes = [], []
    for path in image_files(root):
        rel = path.relative_to(root)
        if len(rel.parts) == 1:
            raise ConfigError(
                f"{path}: an image directly in {root}; {kind}:DIR needs one sub-folder per identity "
                "(DIR/<identity>/<image>)"
            )
        sizes.append(file_size(path))
        items.append(Item(rel.as_posix(), rel.parts[0]))
    if not items:
        raise ConfigError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in identity sub-folders")
    return DataSet(kind, spec, root, tuple(items), file_reader(root), sizes=tuple(sizes))


def load_portraits(arg: str, spec: str) -> DataSet:
    """The offline real faces with their identities (``portraits`` takes no folder)."""
    if arg:
        raise ConfigError(f"--data {spec}: portraits is builtin and takes no folder (write just 'portraits')")
    from biogate.exporters.data.face_data import load_faces

    samples = load_faces(min_size=40, lfw=False, extra=True)
    images = {f"{s.source}#{k}": s for k, s in enumerate(samples)}
    items = tuple(Item(key, str(s.identity)) for key, s in images.items())
    landmarks = {key: s.landmarks for key, s in images.items()}

    def read(item: Item) -> np.ndarray:
        return np.ascontiguousarray(images[item.key].image[..., :3])

    return DataSet("portraits", spec, None, items, read, extra={"landmarks": landmarks})
