"""``palm-dicom:DIR`` (a detector's DICOM export folder with live/fake labels) and ``palm-sim``.

``palm-dicom:DIR``::

    DIR/labels.csv       columns id,label,subject[,kind]: file, 1 live / 0 fake (or live/fake),
                         the person (or fake object) scanned, and the fake's kind (rubber, plaster, ...)
    DIR/<id>             DICOM DX/CR image from the device detector (raw, "for processing")
    DIR/hr/<id>          optional: the same scan from a high-resolution reference detector (palm SR)

as ``biogate palm simulate --out DIR`` writes it. Images are read as raw linear detector counts
(MONOCHROME2 files are inverted back to counts), the way the device's ``dicom://`` source hands
them to :func:`biogate.models.palm.log_attenuation`. Split by ``subject``.

``palm-sim[:DIVISOR]``: the project's radiograph simulator (:mod:`biogate.sim.xray`),
splits ``train``/``val``/``test`` of different subjects; ``DIVISOR`` shrinks the sample counts.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from biogate.errors import ConfigError

from .base import DataSet, Item, count_arg, file_size, folder

_LIVE = {"1": 1, "live": 1, "0": 0, "fake": 0}


def read_counts(path: Path) -> np.ndarray:
    """Raw detector counts (``uint16``, open beam bright) of one DICOM file; errors name the file."""
    import pydicom

    try:
        ds = pydicom.dcmread(str(path))
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for corrupt or non-image files
        raise ConfigError(f"{path}: not a readable DICOM image ({type(exc).__name__}: {exc})") from None
    if pixels.ndim != 2:
        raise ConfigError(f"{path}: expected one 2-D image, got pixel data of shape {pixels.shape}")
    values = pixels.astype(np.float64) * float(ds.get("RescaleSlope", 1.0) or 1.0)
    values += float(ds.get("RescaleIntercept", 0.0) or 0.0)
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME2":  # dense = bright: back to counts
        values = (2 ** int(ds.get("BitsStored", 16) or 16) - 1) - values
    return np.clip(values, 0, 65535).astype(np.uint16)


def load_palm_dicom(arg: str, spec: str) -> DataSet:
    """Parse and check ``labels.csv``; items are labelled ``{"live": 0|1, "kind": str, "hr": bool}``."""
    root = folder(arg, "palm-dicom")
    labels = root / "labels.csv"
    if not labels.is_file():
        raise ConfigError(f"palm-dicom: missing {labels} (columns id,label,subject[,kind])")
    items, sizes = [], []
    with labels.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"id", "label", "subject"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{labels} line 1: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            name, subject = (row.get("id") or "").strip(), (row.get("subject") or "").strip()
            if not name or not (root / name).is_file():
                raise ConfigError(f"{labels} line {line}: listed file {root / name} does not exist")
            live = _LIVE.get((row.get("label") or "").strip().lower())
            if live is None:
                raise ConfigError(
                    f"{labels} line {line}: label must be 1/live or 0/fake, got {row.get('label')!r}"
                )
            if not subject:
                raise ConfigError(f"{labels} line {line}: empty subject (needed to split by person)")
            kind = (row.get("kind") or "").strip() or ("live" if live else "fake")
            if live != (kind == "live"):
                raise ConfigError(
                    f"{labels} line {line}: kind {kind!r} contradicts label {row.get('label')!r}"
                )
            label = {"live": live, "kind": kind, "hr": (root / "hr" / name).is_file()}
            items.append(Item(name, subject, label))
            sizes.append(file_size(root / name))
    if not items:
        raise ConfigError(f"{labels}: no labelled images")
    return DataSet("palm-dicom", spec, root, tuple(items), None, sizes=tuple(sizes))


def load_palm_sim(arg: str, spec: str) -> DataSet:
    """``palm-sim[:DIVISOR]``: the simulator's train/val/test splits (fixed seeds, different subjects)."""
    divisor = count_arg(arg, spec, 1, "palm-sim[:DIVISOR]", "palm-sim:10")
    from biogate.exporters.training.train_palm import SPLITS

    items, parts = [], {}
    for part in ("train", "val", "test"):
        seed, counts = SPLITS[part]
        start = len(items)
        for kind, n in counts.items():
            items += [
                Item(f"{part}/{kind}/{i}", f"{part}-{seed}", {"kind": kind})
                for i in range(max(1, n // divisor))
            ]
        parts[part] = tuple(range(start, len(items)))
    return DataSet("palm-sim", spec, None, tuple(items), parts=parts, extra={"divisor": divisor})
