"""The seed-004 data protocol: genuine faces, their split, and the presentations built from them.

* :func:`load_genuine_faces` — RGB ``uint8`` genuine face crops, from the project's shared offline
  face loader (``biogate.exporters.data.face_data``) when present, or from an image folder (retraining
  on a real data set).
* :func:`split_faces` — a seeded, disjoint train / validation / test split *by face image*.
* :func:`portrait_faces` / :func:`split_portraits` — the full-resolution faces only (fetched extras
  included) or of a folder with one sub-folder per person (``folds:<folder>``), split *by
  identity* into ``folds`` groups: fold ``k`` tests on group ``k``, calibrates on group ``k + 1``
  and trains on the rest (cross-validation over identities).
* :func:`render_work` / :func:`present` — every presentation, genuine or attack, goes through the
  same path: the face is rendered at the work size (4× the model input), an attack is applied or
  not, then :func:`~.attacks.camera_capture` brings it to the model input. Genuine and attack
  images therefore differ only by the attack.
* :func:`evaluation_set` — genuine presentations (several captures per face) and, per attack
  species, attack presentations made from the same test faces.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from biogate.errors import ConfigError
from biogate.exporters.data.layouts.base import identity_folds

from .attacks import ATTACKS, camera_capture

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
WORK_FACTOR = 4


def _to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ConfigError(f"face image of shape {arr.shape} is neither grey nor RGB")
    return np.ascontiguousarray(arr[..., :3])


def _faces_from_shared_loader() -> list[np.ndarray] | None:
    """Faces from :mod:`biogate.exporters.data.face_data` (the project's offline real-face loader).

    Its default crop (face box plus 25 % margin per side) keeps some background around the face.
    """
    try:
        face_data = importlib.import_module("biogate.exporters.data.face_data")
    except ImportError:
        return None
    return [_to_rgb_uint8(s.image) for s in face_data.load_faces()]


def _faces_from_skimage() -> list[np.ndarray]:
    """The faces scikit-image ships: the 100 face crops of ``lfw_subset`` and the astronaut portrait."""
    from skimage import data

    lfw = data.lfw_subset()[:100]  # the first 100 are faces, the rest non-faces
    faces = [_to_rgb_uint8(f) for f in lfw]
    faces.append(_to_rgb_uint8(data.astronaut()[20:220, 140:340]))
    return faces


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _faces_from_folder(folder: Path) -> list[np.ndarray]:
    files = _image_files(folder)
    if not files:
        raise ConfigError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    faces = []
    for p in files:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ConfigError(f"cannot decode image {p}")
        faces.append(np.ascontiguousarray(bgr[..., ::-1]))
    return faces


def load_genuine_faces(source: str | Path = "builtin") -> list[np.ndarray]:
    """Genuine face crops as RGB ``uint8`` arrays.

    ``source`` is ``"builtin"`` (the shared face loader if it has landed, else scikit-image's
    faces) or a folder of face crops (any depth; jpg/png/...), e.g. a real data set laid out as an
    image folder. Crops should include some background around the face, the same way at train and
    test time (spec §6 row 2).
    """
    if str(source) == "builtin":
        return _faces_from_shared_loader() or _faces_from_skimage()
    folder = Path(source)
    if not folder.is_dir():
        raise ConfigError(f"face source {source!r} is neither 'builtin' nor a folder")
    return _faces_from_folder(folder)


@dataclass(frozen=True)
class Split:
    train: list[np.ndarray]
    val: list[np.ndarray]
    test: list[np.ndarray]
    #: identity names per part, when the source has them (``portraits``)
    identities: dict[str, list[str]] = field(default_factory=dict)


#: Smallest annotated face side of a "full-resolution" face: the LFW crops are 25 px, the rest ≥ 68.
HD_MIN_SIDE = 40
#: The portraits split has few faces: genuine captures per validation face, rounds of test presentations.
PORTRAIT_VAL_CAPTURES, PORTRAIT_ROUNDS = 12, 4


#: Prefix of a folder source split by identity: ``folds:/data/faces`` (one sub-folder per person).
FOLDS_PREFIX = "folds:"


def is_identity_source(source: str | Path) -> bool:
    """True for sources split into identity folds: ``portraits`` and ``folds:<folder>``."""
    return str(source) == "portraits" or str(source).startswith(FOLDS_PREFIX)


def portrait_faces(source: str = "portraits") -> tuple[list[str], list[np.ndarray]]:
    """Faces with their identities, for an identity-fold split.

    ``portraits``: every full-resolution real face offline, face_data's portraits plus its fetched
    extras. That is 15 faces of 14 people when :mod:`biogate.exporters.data.face_photos` has fetched its
    photographs (Einstein appears twice), 9 otherwise. No LFW crops: a 25-pixel grey face is not
    what a terminal's camera sees at the operating distance.

    ``folds:<folder>``: a real data set of face crops, one sub-folder per person (any depth below
    it); an image directly in the folder is a person of its own.
    """
    source = str(source)
    if source.startswith(FOLDS_PREFIX):
        folder = Path(source[len(FOLDS_PREFIX) :])
        if not folder.is_dir():
            raise ConfigError(f"face source {source!r}: {folder} is not a folder")
        parts = [p.relative_to(folder).parts for p in _image_files(folder)]
        names = [rel[0] if len(rel) > 1 else Path(rel[0]).stem for rel in parts]
        return names, _faces_from_folder(folder)
    if source != "portraits":
        raise ConfigError(
            f"face source {source!r} has no identities; use 'portraits' or '{FOLDS_PREFIX}<folder>'"
        )
    face_data = importlib.import_module("biogate.exporters.data.face_data")
    samples = face_data.load_faces(min_size=HD_MIN_SIDE, lfw=False, extra=True)
    return [str(s.identity) for s in samples], [_to_rgb_uint8(s.image) for s in samples]


def split_portraits(fold: int = 0, folds: int = 5, seed: int = 4, source: str = "portraits") -> Split:
    """Identity-disjoint split of :func:`portrait_faces`: test = group ``fold``, val = the next group."""
    if not 0 <= fold < folds:
        raise ConfigError(f"fold {fold} is outside 0..{folds - 1}")
    names, faces = portrait_faces(source)
    groups = identity_folds(names, folds, seed)
    test_ids, val_ids = set(groups[fold]), set(groups[(fold + 1) % folds])

    def part(keep) -> tuple[list[np.ndarray], list[str]]:
        picked = [(n, f) for n, f in zip(names, faces) if keep(n)]
        return [f for _, f in picked], [n for n, _ in picked]

    (tr, tr_n), (va, va_n), (te, te_n) = (
        part(lambda n: n not in test_ids and n not in val_ids),
        part(lambda n: n in val_ids),
        part(lambda n: n in test_ids),
    )
    return Split(tr, va, te, {"train": tr_n, "val": va_n, "test": te_n})


def split_faces(faces: Sequence[np.ndarray], seed: int = 4, val: float = 0.2, test: float = 0.2) -> Split:
    """Disjoint train/val/test lists of faces, shuffled with ``seed`` (same seed, same split)."""
    n = len(faces)
    n_val, n_test = max(1, round(val * n)), max(1, round(test * n))
    if n - n_val - n_test < 1:
        raise ConfigError(f"{n} faces are too few to split into train/val/test")
    order = np.random.default_rng(seed).permutation(n)
    pick = [faces[i] for i in order]
    return Split(pick[n_val + n_test :], pick[:n_val], pick[n_val : n_val + n_test])


def render_work(face: np.ndarray, size: int) -> np.ndarray:
    """The face rendered at the work size (``WORK_FACTOR``× the model input), RGB ``uint8``."""
    side = size * WORK_FACTOR
    interp = cv2.INTER_AREA if min(face.shape[:2]) > side else cv2.INTER_CUBIC
    return cv2.resize(face, (side, side), interpolation=interp)


def present(face: np.ndarray, size: int, seed: int, attack: str | None = None) -> np.ndarray:
    """One presentation of ``face`` at the model input ``size``: genuine, or attack species ``attack``."""
    rng = np.random.default_rng(seed)
    work = render_work(face, size)
    if attack is not None:
        out = ATTACKS[attack](work.astype(np.float32) / 255.0, rng)
        work = np.round(out * 255.0).astype(np.uint8)
    return camera_capture(work, size, rng)


@dataclass
class EvaluationSet:
    """Model-input RGB ``uint8`` presentations (N×S×S×3) for one evaluation."""

    bona_fide: np.ndarray
    attacks: dict[str, np.ndarray]


def evaluation_set(
    faces: Sequence[np.ndarray],
    size: int,
    seed: int,
    captures: int = 3,
    attacks: Sequence[str] | None = None,
) -> EvaluationSet:
    """``captures`` genuine presentations per face and one presentation per face per attack species."""
    names = list(attacks) if attacks is not None else list(ATTACKS)
    unknown = [a for a in names if a not in ATTACKS]
    if unknown:
        raise ConfigError(f"unknown attack(s) {unknown}; choose from {', '.join(ATTACKS)}")
    bona = [
        present(f, size, seed * 1_000_003 + 7919 * i + c)
        for i, f in enumerate(faces)
        for c in range(captures)
    ]
    att = {
        name: np.stack(
            [present(f, size, seed * 1_000_003 + 104_729 * (k + 1) + i, name) for i, f in enumerate(faces)]
        )
        for k, name in enumerate(names)
    }
    return EvaluationSet(np.stack(bona), att)


def to_tensor_layout(images: np.ndarray) -> np.ndarray:
    """RGB ``uint8`` N×H×W×3 → float32 N×3×H×W in [-1, 1] (the model's input normalisation)."""
    x = images.astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
