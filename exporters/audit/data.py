"""Seed 003 S102-a: identities, image → embedding pairs, average faces, identity-disjoint split.

Offline there is no identity-labelled face set, so identities are *made* from the real faces of
:mod:`biogate.exporters.data.face_data`: each real face is one identity, its images are the original
plus augmented captures (roll ±8°, scale/shift, brightness/contrast, blur from
:func:`~biogate.exporters.data.face_data.augmented_views`, plus mirror pose, coloured light and a
directional light ramp added here).  Every image is aligned to dlib's 150×150 chip (as the
embedder sees it) before averaging, so average faces are sharp where the views agree.

With the defaults: 9 colour photographs × (1 + 39) images + 100 grey 25×25 LFW crops × (1 + 7)
images = 109 identities, 1160 images.  This is tiny next to the CelebA/VGGFace2-scale sets the
seed assumes, and augmentation cannot make new people: say so wherever the numbers are quoted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from biogate.exporters.data.face_data import FaceSample, augmented_views, load_faces

CHIP = 150  # dlib chip side (the encoder's input)
TARGET = 128  # the inverse model's output side
#: encoder(chips uint8 (N, 150, 150, 3) RGB) -> (N, d) float32 unit embeddings
Encoder = Callable[[np.ndarray], np.ndarray]
_FLIP_DLIB5 = [2, 3, 0, 1, 4]  # mirrored image: the two eyes swap places in dlib's 5-point order


@dataclass
class FaceIdentities:
    """Aligned chips with identity labels.

    ``chips`` (N, 150, 150, 3) uint8 RGB; ``labels`` (N,) int into ``names``; ``kinds`` per
    identity (``photo`` or ``lfw``); ``original`` (N,) True for each identity's un-augmented image.
    """

    chips: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    original: np.ndarray

    def __len__(self) -> int:
        return len(self.chips)

    def describe(self) -> str:
        """One line with the exact identity and image counts per source."""
        parts = []
        for kind in sorted(set(self.kinds)):
            ids = [i for i, k in enumerate(self.kinds) if k == kind]
            n = int(np.isin(self.labels, ids).sum())
            parts.append(f"{len(ids)} {kind} identities / {n} images")
        return f"{len(self.names)} identities, {len(self)} images ({'; '.join(parts)})"


def _relight(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coloured light (per-channel gain) and a directional ramp (one side brighter)."""
    h, w = image.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = ((xx / w - 0.5) * np.cos(angle) + (yy / h - 0.5) * np.sin(angle)) * rng.uniform(0.0, 0.5)
    gain = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    out = image.astype(np.float32) * (1.0 + ramp)[..., None] * gain
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _mirror(view: FaceSample) -> FaceSample:
    w = view.image.shape[1]
    marks = None
    if view.landmarks is not None:
        marks = view.landmarks[_FLIP_DLIB5].copy()
        marks[:, 0] = w - 1 - marks[:, 0]
    x0, y0, x1, y1 = view.box
    return FaceSample(
        np.ascontiguousarray(view.image[:, ::-1]),
        view.identity,
        view.source + "~flip",
        (w - x1, y0, w - x0, y1),
        marks,
    )


def lfw_chip(image: np.ndarray) -> np.ndarray:
    """A tight LFW-subset crop placed where a dlib chip has the face (as the embedder's calibration does)."""
    face = cv2.resize(image, (120, 120), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(face, 15, 15, 15, 15, cv2.BORDER_REPLICATE)


def identity_views(sample: FaceSample, n: int, seed: int) -> list[FaceSample]:
    """The original plus ``n`` augmented captures of one face (one identity's images)."""
    rng = np.random.default_rng(seed + 7919)
    views = [sample]
    for view in augmented_views(sample, n, seed=seed):
        if rng.random() < 0.5:
            view = _mirror(view)
        views.append(
            FaceSample(_relight(view.image, rng), view.identity, view.source, view.box, view.landmarks)
        )
    return views


def build_identities(
    views_photo: int = 39, views_lfw: int = 7, lfw: bool = True, seed: int = 0
) -> FaceIdentities:
    """Every real face as one identity with its augmented captures, aligned to 150×150 chips."""
    from biogate.models.align import extract_chip

    chips, labels, names, kinds, original = [], [], [], [], []
    for i, face in enumerate(load_faces(lfw=lfw, min_size=0)):
        is_lfw = face.landmarks is None
        n = views_lfw if is_lfw else views_photo
        for k, view in enumerate(identity_views(face, n, seed=seed * 100_003 + i)):
            if is_lfw:
                chips.append(lfw_chip(view.image))
            else:
                chips.append(extract_chip(view.image, view.landmarks, CHIP, 0.25, "dlib5"))
            labels.append(len(names))
            original.append(k == 0)
        names.append(face.identity or face.source)
        kinds.append("lfw" if is_lfw else "photo")
    return FaceIdentities(np.stack(chips), np.array(labels), tuple(names), tuple(kinds), np.array(original))


def to_target(chips: np.ndarray, size: int = TARGET) -> np.ndarray:
    """uint8 (N, 150, 150, 3) chips → float32 (N, 3, size, size) in [0, 1] (the inverse model's space)."""
    out = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in chips])
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def to_chips(images: np.ndarray) -> np.ndarray:
    """float (N, 3, 128, 128) in [0, 1] → uint8 (N, 150, 150, 3) chips for the encoder."""
    hwc = np.clip(np.asarray(images, np.float32).transpose(0, 2, 3, 1) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.stack([cv2.resize(im, (CHIP, CHIP), interpolation=cv2.INTER_LINEAR) for im in hwc])


def average_faces(images: np.ndarray, labels: np.ndarray, n_labels: int | None = None) -> np.ndarray:
    """Per-identity pixel average (seed claim 2): ``(L, ...)`` means of ``images`` grouped by label."""
    labels = np.asarray(labels)
    n_labels = int(labels.max()) + 1 if n_labels is None else n_labels
    out = np.zeros((n_labels, *images.shape[1:]), np.float64)
    counts = np.bincount(labels, minlength=n_labels).astype(np.float64)
    np.add.at(out, labels, images.astype(np.float64))
    seen = counts > 0
    out[seen] /= counts[seen].reshape(-1, *([1] * (images.ndim - 1)))
    return out.astype(np.float32)


def split_identities(
    kinds: tuple[str, ...] | list[str], test_fraction: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Identity-disjoint split, stratified by source kind: ``(train_ids, test_ids)`` label arrays."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for kind in sorted(set(kinds)):
        ids = np.array([i for i, k in enumerate(kinds) if k == kind])
        rng.shuffle(ids)
        n_test = max(1, round(len(ids) * test_fraction)) if len(ids) > 1 else 0
        test += ids[:n_test].tolist()
        train += ids[n_test:].tolist()
    return np.array(sorted(train), int), np.array(sorted(test), int)


def embed(encoder: Encoder, chips: np.ndarray, batch: int = 32, progress: bool = False) -> np.ndarray:
    """Query the (black-box) encoder on every chip; only its output is used."""
    out = []
    steps = range(0, len(chips), batch)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="embedding", unit="batch")
    for k in steps:
        out.append(np.asarray(encoder(chips[k : k + batch]), np.float32))
    emb = np.concatenate(out) if out else np.zeros((0, 128), np.float32)
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def engine_encoder(engine) -> Encoder:
    """Adapt an embedder Engine (any ``infer(dict) -> dict`` of face_embed_dlib) to :data:`Encoder`."""
    from biogate.models.face_embed import FaceEmbedder

    embedder = FaceEmbedder(engine)
    return lambda chips: embedder.embed_chips(chips)["embedding"]


__all__ = [
    "CHIP",
    "TARGET",
    "Encoder",
    "FaceIdentities",
    "average_faces",
    "build_identities",
    "embed",
    "engine_encoder",
    "identity_views",
    "lfw_chip",
    "split_identities",
    "to_chips",
    "to_target",
]
