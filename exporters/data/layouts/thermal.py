"""``thermal:DIR`` (radiometric frames with identity and reference-temperature labels) and ``thermal-sim``.

``thermal:DIR``::

    DIR/thermal/<identity>/<frame>.png    16-bit radiometric PNG in centi-kelvin (Y16, as the camera writes)
    DIR/thermal/<identity>/<frame>.npy    or a float array in °C
    DIR/thermal/labels.csv                columns file,core_c[,ambient_c]; file relative to DIR/thermal
    DIR/thermal/blackbody.json            optional: {"roi": [x, y, w, h], "set_c": 35.0} (in-scene reference)
    DIR/rgb/<identity>/<image>            optional paired RGB face images (the seed's RGB pre-training)

``core_c`` is the reference body temperature measured at capture (a clinical thermometer), the
label the temperature head learns. Every ``labels.csv`` row is checked (line numbers in errors).

``thermal-sim[:IDENTITIESxCAPTURES]``: the project's radiometric face generator
(:mod:`biogate.sim.thermal`), 80x30 by default, what the shipped weights were trained on.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np

from biogate.errors import ConfigError

from .base import DataSet, Item, file_size, folder, image_files

#: Plausible human core temperatures (°C): a label outside is a typo or a unit mix-up (K, °F).
CORE_RANGE_C = (30.0, 45.0)


def read_frame(path: Path) -> tuple[np.ndarray, str]:
    """``(image, Frame format)`` of one radiometric file: ``y16`` centi-kelvin PNG or ``celsius32`` NPY."""
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path).astype(np.float32), "celsius32"
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable .npy array ({exc})") from None
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None or img.dtype != np.uint16 or img.ndim != 2:
        raise ConfigError(f"{path}: need a 16-bit single-channel centi-kelvin PNG or a .npy °C array")
    return img, "y16"


def _number(text: str | None, labels: Path, line: int, column: str) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{labels} line {line}: column {column} must be a number, got {text!r}") from None


def _blackbody(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        roi = tuple(int(v) for v in data["roi"])
        if len(roi) != 4:
            raise ValueError("roi needs x, y, w, h")
        return {"roi": roi, "set_c": float(data["set_c"])}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: expected {{'roi': [x, y, w, h], 'set_c': °C}} ({exc})") from None


def load_thermal(arg: str, spec: str) -> DataSet:
    """Parse and check ``labels.csv``; items are thermal frames labelled ``{"core_c", "ambient_c"}``."""
    root = folder(arg, "thermal")
    thermal = root / "thermal"
    labels = thermal / "labels.csv"
    if not labels.is_file():
        raise ConfigError(f"dataset {root}: missing {labels} (columns file,core_c[,ambient_c])")
    people = {p.name for p in thermal.iterdir() if p.is_dir()}
    items, sizes = [], []
    with labels.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "core_c"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{labels} line 1: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            name = (row.get("file") or "").strip()
            path = thermal / name
            if not name or not path.is_file():
                raise ConfigError(f"{labels} line {line}: listed file {path} does not exist")
            person = Path(name).parts[0]
            if len(Path(name).parts) < 2 or person not in people:
                raise ConfigError(f"{labels} line {line}: {name!r} is not under a person folder of {thermal}")
            core = _number(row.get("core_c"), labels, line, "core_c")
            if not CORE_RANGE_C[0] <= core <= CORE_RANGE_C[1]:
                raise ConfigError(
                    f"{labels} line {line}: core_c {core} is outside {CORE_RANGE_C[0]}-{CORE_RANGE_C[1]} °C "
                    "(give degrees Celsius)"
                )
            ambient = _number(row.get("ambient_c") or "22", labels, line, "ambient_c")
            items.append(Item(f"thermal/{name}", person, {"core_c": core, "ambient_c": ambient}))
            sizes.append(file_size(path))
    if not items:
        raise ConfigError(f"{labels}: no labelled frames")
    rgb = [
        Item(p.relative_to(root).as_posix(), p.relative_to(root / "rgb").parts[0])
        for p in (image_files(root / "rgb") if (root / "rgb").is_dir() else [])
        if len(p.relative_to(root / "rgb").parts) > 1
    ]
    extra = {"rgb": rgb, "blackbody": _blackbody(thermal / "blackbody.json")}
    return DataSet("thermal", spec, root, tuple(items), None, extra=extra, sizes=tuple(sizes))


def load_thermal_sim(arg: str, spec: str) -> DataSet:
    """``thermal-sim[:IxC]``: I generated identities of C captures each (generator seed 0, train split)."""
    identities, captures = 80, 30
    if arg:
        try:
            identities, captures = (int(v) for v in arg.lower().split("x"))
        except ValueError:
            raise ConfigError(
                f"--data {spec}: expected thermal-sim:IDENTITIESxCAPTURES, e.g. thermal-sim:80x30"
            ) from None
        if identities < 3 or captures < 2:
            raise ConfigError(f"--data {spec}: need at least 3 identities of 2 captures")
    items = tuple(
        Item(f"sim/{i}/{c}", str(i), {"capture": c}) for i in range(identities) for c in range(captures)
    )
    return DataSet("thermal-sim", spec, None, items, extra={"identities": identities, "captures": captures})
