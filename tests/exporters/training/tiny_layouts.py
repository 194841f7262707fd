"""Writers of tiny dataset layouts (real face crops, simulated scans), for tests that train in seconds."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


def lfw_faces(n: int, size: int = 48) -> list[np.ndarray]:
    """``n`` real grey face crops (scikit-image's LFW subset) as RGB ``size``² images."""
    from skimage import data

    faces = (data.lfw_subset()[:n] * 255).astype(np.uint8)
    return [
        cv2.resize(np.repeat(f[..., None], 3, axis=2), (size, size), interpolation=cv2.INTER_CUBIC)
        for f in faces
    ]


def _view(face: np.ndarray, k: int) -> np.ndarray:
    """Another "capture" of a face: shifted, brighter or darker."""
    m = np.float32([[1, 0, (k % 3) - 1], [0, 1, (k % 2)]])
    img = cv2.warpAffine(face, m, face.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    return np.clip(img.astype(np.float32) * (0.9 + 0.1 * k) + 3 * k, 0, 255).astype(np.uint8)


def write_folders(root: Path, identities: int = 6, per: int = 2, size: int = 48) -> Path:
    """``root/<person>/<k>.png``: ``identities`` people, ``per`` captures each."""
    for i, face in enumerate(lfw_faces(identities, size)):
        (root / f"person{i}").mkdir(parents=True, exist_ok=True)
        for k in range(per):
            cv2.imwrite(str(root / f"person{i}" / f"{k}.png"), _view(face, k)[..., ::-1])
    return root


def write_pad_folders(root: Path, identities: int = 6, size: int = 48) -> Path:
    """``genuine/<person>/`` and ``attack/{print,replay}/<person>/`` (blurred / tinted copies)."""
    for i, face in enumerate(lfw_faces(identities, size)):
        for k in range(2):
            path = root / "genuine" / f"p{i}" / f"{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), _view(face, k)[..., ::-1])
        for species, img in (
            ("print", cv2.GaussianBlur(face, (0, 0), 2.0)),
            ("replay", (face * 0.6 + 60).astype(np.uint8)),
        ):
            path = root / "attack" / species / f"p{i}" / "0.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), img[..., ::-1])
    return root


def write_lfw_pairs(root: Path, people: int = 4, size: int = 64) -> Path:
    """An LFW-style folder: ``<name>/<name>_000k.jpg`` and a 2-fold ``pairs.txt``."""
    faces = lfw_faces(people, size)
    names = [f"Person_{chr(65 + i)}" for i in range(people)]
    for name, face in zip(names, faces):
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in (1, 2):
            cv2.imwrite(str(root / name / f"{name}_{k:04d}.jpg"), _view(face, k)[..., ::-1])
    lines = ["2\t2"]
    for fold in range(2):
        a, b = names[2 * fold], names[2 * fold + 1]
        lines += [f"{a}\t1\t2", f"{b}\t1\t2", f"{a}\t1\t{b}\t2", f"{b}\t1\t{a}\t1"]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    return root


def write_widerface(root: Path, train: int = 6, val: int = 3, canvas: int = 96) -> Path:
    """A WIDER FACE tree of composites of real faces (exact boxes), ``train``/``val`` images."""
    from biogate.exporters.training.train_face_detector import Composer

    composer = Composer(seed=3, canvas=canvas)
    (root / "wider_face_split").mkdir(parents=True, exist_ok=True)
    for part, n in (("train", train), ("val", val)):
        lines = []
        for i in range(n):
            event = f"{i % 3}--Event{i % 3}"
            img, boxes, _ = composer.sample()
            name = f"{event}/{event}_{i}.jpg"
            path = root / f"WIDER_{part}" / "images" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), img[..., ::-1])
            lines += [name, str(len(boxes))]
            lines += [f"{b[0]:.0f} {b[1]:.0f} {b[2] - b[0]:.0f} {b[3] - b[1]:.0f} 0 0 0 0 0 0" for b in boxes]
            if not len(boxes):
                lines.append("0 0 0 0 0 0 0 0 0 0")
        (root / "wider_face_split" / f"wider_face_{part}_bbx_gt.txt").write_text("\n".join(lines) + "\n")
    return root


def write_palm(root: Path, subjects: int = 6, lr: int = 32) -> Path:
    """A detector's DICOM export: live, rubber and resin_bones scans of ``subjects`` people, with hr/."""
    from biogate.sim.xray import ScanConfig, simulate
    from biogate.sim.xray_dicom import write_dicom

    cfg = ScanConfig()
    (root / "hr").mkdir(parents=True, exist_ok=True)
    rows, n = [], 0
    for s in range(subjects):
        for kind in ("live", "rubber", "resin_bones"):
            scan = simulate(kind, 40 + s, 0, cfg)
            n += 1
            name = f"IMG{n:03d}.dcm"
            small = cv2.resize(scan.lr, (lr, lr), interpolation=cv2.INTER_AREA)
            write_dicom(root / name, small, cfg, subject=f"s{s}", instance=n)
            big = cv2.resize(scan.hr, (2 * lr, 2 * lr), interpolation=cv2.INTER_AREA)
            write_dicom(root / "hr" / name, big, cfg, subject=f"s{s}", instance=n)
            rows.append({"id": name, "label": int(kind == "live"), "kind": kind, "subject": f"s{s}"})
    with (root / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "label", "kind", "subject"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def write_thermal(root: Path, people: int = 5, captures: int = 4) -> Path:
    """``thermal/<person>/<k>.png`` (16-bit centi-kelvin), ``labels.csv``, blackbody.json, ``rgb/``."""
    import json

    from biogate.sim.thermal import ThermalFaceGenerator

    gen = ThermalFaceGenerator(seed=5)
    rows, bb = [], None
    for i in range(people):
        name = f"p{i}"
        (root / "rgb" / name).mkdir(parents=True, exist_ok=True)
        (root / "thermal" / name).mkdir(parents=True, exist_ok=True)
        for c in range(captures):
            s = gen.sample(i, c)
            cv2.imwrite(str(root / "rgb" / name / f"{c}.png"), cv2.cvtColor(s.rgb, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(root / "thermal" / name / f"{c}.png"), s.frame_ck)
            rows.append({"file": f"{name}/{c}.png", "core_c": s.core_c, "ambient_c": s.ambient_c})
            bb = (s.blackbody_box, s.blackbody_set_c)
    with (root / "thermal" / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "core_c", "ambient_c"])
        writer.writeheader()
        writer.writerows(rows)
    (root / "thermal" / "blackbody.json").write_text(json.dumps({"roi": list(bb[0]), "set_c": bb[1]}))
    return root
