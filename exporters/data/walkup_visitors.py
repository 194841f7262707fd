"""The demo walk-up's visitors folder, made from the real photographs (training side).

The device side cannot make face photographs, so ``biogate demo --prepare DIR`` writes them into
``DIR/walkup`` for :mod:`biogate.sim.walkup` to read: each visitor's face is a real photograph of
:mod:`.face_data` (a visitor is enrolled from one augmented view and walks up as three others;
the offline data has no second photograph of anyone), the print attack is
:func:`biogate.exporters.pad.attacks.apply_attack` (``print_photo``) applied to those views, and
the room is scikit-image's ``coffee``, blurred and darkened.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from biogate.sim.walkup import FRAME_H, FRAME_W, Visitor, write_visitors

#: The script: two enrolled people (open), an unknown person (deny), a printed photo of an
#: enrolled person (deny) and a feverish enrolled person (alarm).
SCRIPT = (
    Visitor("enrolled: Eileen", "eileen_collins", True, "open"),
    Visitor("enrolled: person 2", "t1_person2", True, "open"),
    Visitor("unknown person", "t1_person3", False, "deny"),
    Visitor("printed photo of Eileen", "eileen_collins", True, "deny", attack="print_photo"),
    Visitor("enrolled, feverish", "t1_person0", True, "alarm", core_c=38.4),
)
VIEWS = 3
ROOM_SEED = 3


def _background(seed: int) -> np.ndarray:
    from skimage import data

    wall = cv2.resize(data.coffee(), (FRAME_W, FRAME_H))[:, :, ::-1]
    return cv2.GaussianBlur(wall, (0, 0), 9) // 2 + 60 + np.uint8(seed % 7)


def make_visitors(folder: str | Path, script: tuple[Visitor, ...] = SCRIPT) -> Path:
    """Write the visitors folder of ``script`` (default :data:`SCRIPT`) into ``folder``; returns it.

    A visitor's ``attack`` is any species of :data:`biogate.exporters.pad.attacks.ATTACKS`.
    """
    import dataclasses

    from biogate.exporters.pad.attacks import apply_attack

    from .face_data import augmented_views, load_faces

    faces = {s.identity: s for s in load_faces(min_size=40, margin=0.6, lfw=False)}
    missing = sorted({v.identity for v in script} - set(faces))
    if missing:
        raise FileNotFoundError(
            f"the demo's photographs {missing} are missing: python -m biogate.exporters.data.weight_packages "
            "insightface (or pip install --no-deps insightface==2.1)"
        )

    def view(identity: str, seed: int) -> np.ndarray:
        return augmented_views(faces[identity], 1, seed=seed)[0].image

    visitors = []
    for k, v in enumerate(script):
        views = [view(v.identity, seed=100 + 10 * k + j) for j in range(VIEWS)]
        if v.attack:
            views = [apply_attack(image, v.attack, seed=7 + j) for j, image in enumerate(views)]
        enrol = view(v.identity, seed=1) if v.enrolled and not v.attack else None
        visitors.append(
            dataclasses.replace(
                v,
                name=v.identity.replace("_", " "),
                views=tuple(np.ascontiguousarray(image[:, :, ::-1]) for image in views),
                enrol=None if enrol is None else np.ascontiguousarray(enrol[:, :, ::-1]),
            )
        )
    return write_visitors(folder, visitors, _background(ROOM_SEED))


__all__ = ["SCRIPT", "make_visitors"]
