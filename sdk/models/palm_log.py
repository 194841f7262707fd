"""Palm decision log and field labels: the device half of the hard-example loop (seed 001, claim 9).

A log folder holds ``decisions.jsonl`` (one JSON object per decision) and ``images/``:

* ``<id>.raw.png`` — the first (raw, low-resolution) image as 16-bit PNG, exactly the detector counts;
* ``<id>.sr.png`` — the second (super-resolved) image, normalised attenuation × 65535, when SR ran.

A labelling file marks field results after manual review, as CSV (``id,label`` header; label
``1``/``live`` or ``0``/``fake``, optional ``kind``) or JSON (``{"<id>": "live", ...}`` or a list of
``{"id": ..., "label": ...}``).  :func:`hard_examples` joins the two and keeps the decisions the
model got wrong: those are the training samples of the next fine-tune.
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError

LOG_FILE = "decisions.jsonl"
_LABEL_WORDS = {"1": 1, "live": 1, "real": 1, "bona_fide": 1, "0": 0, "fake": 0, "spoof": 0, "attack": 0}


class DecisionLog:
    """Appends each palm decision with its images to ``folder`` (thread-safe, crash-tolerant)."""

    def __init__(self, folder: str | Path, model_version: str = "") -> None:
        self.folder = Path(folder)
        (self.folder / "images").mkdir(parents=True, exist_ok=True)
        self.model_version = model_version
        self._lock = threading.Lock()

    def record(
        self,
        raw: np.ndarray,
        sr: np.ndarray | None,
        score: float,
        is_live: bool,
        threshold: float,
        source: str = "",
        t_capture: int = 0,
        **meta: Any,
    ) -> str:
        """Store one decision; returns its id (the key a labelling file uses)."""
        if raw.dtype != np.uint16 or raw.ndim != 2:
            raise ConfigError(f"decision log needs the raw uint16 image, got {raw.dtype} {raw.shape}")
        log_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        images = self.folder / "images"
        _write_png(images / f"{log_id}.raw.png", raw)
        entry: dict[str, Any] = {
            "id": log_id,
            "time": time.time(),
            "t_capture": int(t_capture),
            "source": source,
            "score": float(score),
            "is_live": bool(is_live),
            "threshold": float(threshold),
            "model_version": self.model_version,
            "raw": f"images/{log_id}.raw.png",
        }
        if sr is not None:
            sr16 = np.round(np.clip(sr, 0.0, 1.0) * 65535.0).astype(np.uint16)
            _write_png(images / f"{log_id}.sr.png", sr16)
            entry["sr"] = f"images/{log_id}.sr.png"
        entry.update(meta)
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock, open(self.folder / LOG_FILE, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        return log_id


def _write_png(path: Path, image: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.png")
    if not cv2.imwrite(str(tmp), image):
        raise ConfigError(f"cannot write {path}")
    os.replace(tmp, path)


def read_log(folder: str | Path) -> list[dict[str, Any]]:
    """Every decision of a log folder, oldest first; a torn last line (power cut) is skipped."""
    path = Path(folder) / LOG_FILE
    if not path.is_file():
        raise ConfigError(f"{folder}: not a palm decision log (no {LOG_FILE})")
    out = []
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if n == len(lines):
                break
            raise ConfigError(f"{path}:{n}: not valid JSON") from None
    return out


def load_image(folder: str | Path, entry: dict[str, Any], which: str = "raw") -> np.ndarray:
    """The logged ``raw`` image (uint16 counts) or ``sr`` image (float32 attenuation in [0, 1])."""
    rel = entry.get(which)
    if not rel:
        raise ConfigError(f"decision {entry.get('id')!r} has no {which!r} image")
    path = Path(folder) / rel
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None or img.dtype != np.uint16:
        raise ConfigError(f"{path}: missing or not a 16-bit PNG")
    return img if which == "raw" else (img.astype(np.float32) / 65535.0)


def _label_value(value: Any, where: str) -> int:
    word = str(value).strip().lower()
    if word not in _LABEL_WORDS:
        raise ConfigError(f"{where}: label {value!r} is not one of {', '.join(sorted(_LABEL_WORDS))}")
    return _LABEL_WORDS[word]


def read_labels(path: str | Path) -> dict[str, int]:
    """Manual labels, ``id → 1 (live) | 0 (fake)``, from a CSV or JSON labelling file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"labels file {path} does not exist")
    labels: dict[str, int] = {}
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        items = data.items() if isinstance(data, dict) else [(d.get("id"), d.get("label")) for d in data]
        for key, value in items:
            if not key:
                raise ConfigError(f"{path}: an entry has no id")
            labels[str(key)] = _label_value(value, f"{path} id {key}")
        return labels
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "id" not in reader.fieldnames or "label" not in reader.fieldnames:
            raise ConfigError(f"{path}: CSV needs an 'id,label' header, got {reader.fieldnames}")
        for n, row in enumerate(reader, 2):
            labels[row["id"].strip()] = _label_value(row["label"], f"{path}:{n}")
    return labels


@dataclass
class LabelledDecision:
    """A logged decision with its manual label; ``hard`` when the model disagreed with the label."""

    entry: dict[str, Any]
    label: int

    @property
    def hard(self) -> bool:
        return int(bool(self.entry["is_live"])) != self.label


def join_labels(folder: str | Path, labels: dict[str, int]) -> list[LabelledDecision]:
    """Logged decisions that have a label (labels for unknown ids are an error: a wrong log folder)."""
    entries = {e["id"]: e for e in read_log(folder)}
    unknown = [k for k in labels if k not in entries]
    if unknown:
        raise ConfigError(f"{len(unknown)} labelled id(s) are not in the log {folder}, e.g. {unknown[0]!r}")
    return [LabelledDecision(entries[k], v) for k, v in labels.items()]


def hard_examples(folder: str | Path, labels: dict[str, int]) -> list[LabelledDecision]:
    """The labelled decisions where the model's verdict disagrees with the manual label."""
    return [d for d in join_labels(folder, labels) if d.hard]
