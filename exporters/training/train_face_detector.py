"""Train the seed's single-stage face detector on composites of real faces; evaluate on real photos.

Data (all offline, see :mod:`biogate.exporters.data.face_data`):

* faces pasted: the full-resolution faces of every photograph except the held-out group photo
  (astronaut, cameraman, Tom Hanks crop) and the 100 grey 25x25 LFW-subset faces;
* backgrounds: scikit-image sample photographs without people (coffee, cat, rocket, brick, ...)
  plus synthetic gradients/noise; the 100 LFW-subset *non-face* crops are pasted as distractors;
* each composite (192x192) gets 1-3 faces of 14-110 px, rotated by 0/90/180/270° (the seed's
  augmentation) plus up to ±15°, with colour, blur and noise jitter, blended with a feathered
  ellipse; labels are exact: the transformed face box's four vertices and their bounding box.

Held-out evaluation: the real group photograph ``insightface:t1.jpg`` (6 faces, never pasted),
at 0/90/180/270° — 24 face instances — with the SDK decoder (:class:`biogate.models.YoloFaceDetector`).

Trained by ``biogate train face_detect_yolo`` (:mod:`biogate.exporters.training.tasks.face_detect_yolo`)::

    nice -n 10 biogate train face_detect_yolo --data composites --out runs/yolo --steps 1500  # 2 cores
    nice -n 10 biogate train face_detect_yolo --data widerface:/data/WIDER --out runs/yolo_wider \
        --set canvas=640 --batch 32 --epochs 30 --device cuda --nproc 8
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from biogate.exporters.data.face_data import FacePhoto, load_faces, load_photos
from biogate.models.face_detect import YOLO_LEVELS
from biogate.sim.face import FaceComposer

HELD_OUT = "insightface:t1.jpg"
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "yolo_face.pt"
CANVAS = 160
_BACKGROUNDS = (
    "coffee",
    "chelsea",
    "rocket",
    "brick",
    "grass",
    "gravel",
    "coins",
    "hubble_deep_field",
    "page",
)
_BACKGROUNDS += (
    "text",
    "moon",
    "horse",
    "motorcycle_left",
    "retina",
    "ihc",
    "cell",
    "color",
    "logo",
    "clock",
)


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.dstack([image] * 3)
    image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = (
            (np.clip(image, 0, 1) * 255).astype(np.uint8) if image.max() <= 1.0 else image.astype(np.uint8)
        )
    return np.ascontiguousarray(image)


class Composer(FaceComposer):
    """:class:`biogate.sim.face.FaceComposer` over the offline faces, LFW non-faces and sample photos.

    Faces: every photograph's full-resolution faces but the held-out group photo's, and the
    grey LFW-subset faces; distractors: the LFW-subset non-face crops; backgrounds:
    scikit-image's sample photographs without people.
    """

    def __init__(self, seed: int = 0, canvas: int = CANVAS) -> None:
        import skimage.data

        faces: list[tuple[np.ndarray, np.ndarray]] = []  # (crop, quad (4, 2) in crop pixels)
        for f in load_faces(margin=0.6, lfw=False):
            if f.source != HELD_OUT:
                x0, y0, x1, y1 = f.box
                faces.append((f.image, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)))
        n_full = len(faces)
        for f in load_faces(lfw=True):
            if f.identity is None:
                faces.append((f.image, np.array([[1, 1], [24, 1], [24, 24], [1, 24]], np.float32)))
        # Full-resolution faces are few: draw them as often as all the LFW crops together.
        weights = np.array([0.5 / n_full] * n_full + [0.5 / (len(faces) - n_full)] * (len(faces) - n_full))
        negatives = [_rgb((skimage.data.lfw_subset()[i] * 255).astype(np.uint8)) for i in range(100, 200)]
        backgrounds = []
        for name in _BACKGROUNDS:
            try:
                bg = _rgb(getattr(skimage.data, name)())
                shrink = 400.0 / max(bg.shape[:2])
                if shrink < 1:
                    bg = cv2.resize(bg, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
                backgrounds.append(bg)
            except Exception:  # a sample that needs a download is simply skipped
                continue
        super().__init__(faces, backgrounds, negatives, weights, seed=seed, canvas=canvas)


def build_targets(boxes: list[np.ndarray], quads: list[np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    """YOLOv5-style assignment: per level, each face whose size is within 4x of the anchor goes to
    its centre cell and the two neighbouring cells nearest the centre."""
    out = []
    for stride, anchor in YOLO_LEVELS:
        g = size // stride
        rows: list[list[float]] = []
        for b, (bx, qx) in enumerate(zip(boxes, quads)):
            for box, quad in zip(bx, qx):
                w, h = box[2] - box[0], box[3] - box[1]
                if max(w / anchor, anchor / w, h / anchor, anchor / h) >= 4.0:
                    continue
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                gx, gy = cx / stride, cy / stride
                cells = {(int(gx), int(gy))}
                cells.add((int(gx) - 1 if gx % 1 < 0.5 else int(gx) + 1, int(gy)))
                cells.add((int(gx), int(gy) - 1 if gy % 1 < 0.5 else int(gy) + 1))
                offs = ((quad - [cx, cy]) / anchor).reshape(-1).tolist()
                for x, y in cells:
                    if 0 <= x < g and 0 <= y < g:
                        rows.append([b, y, x, cx, cy, w, h, *offs])
        out.append({"t": np.array(rows, np.float32).reshape(-1, 15)})
    return out


def loss_fn(preds: Any, targets: list[dict[str, np.ndarray]]) -> tuple[Any, dict[str, float]]:
    import torch
    import torch.nn.functional as F

    total_obj, total_box, total_quad = 0.0, [], []
    for (stride, anchor), p, tg, weight in zip(YOLO_LEVELS, preds, targets, (4.0, 1.0)):
        t = torch.from_numpy(tg["t"]).to(p.device)
        obj_target = torch.zeros_like(p[:, 0])
        if len(t):
            b, y, x = t[:, 0].long(), t[:, 1].long(), t[:, 2].long()
            q = p[b, :, y, x]
            cx = (2 * torch.sigmoid(q[:, 1]) - 0.5 + x) * stride
            cy = (2 * torch.sigmoid(q[:, 2]) - 0.5 + y) * stride
            w = (2 * torch.sigmoid(q[:, 3])) ** 2 * anchor
            h = (2 * torch.sigmoid(q[:, 4])) ** 2 * anchor
            pb = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
            tb = torch.stack(
                [t[:, 3] - t[:, 5] / 2, t[:, 4] - t[:, 6] / 2, t[:, 3] + t[:, 5] / 2, t[:, 4] + t[:, 6] / 2],
                1,
            )
            giou = _giou(pb, tb)
            total_box.append(1 - giou)
            # Quad offsets are relative to the target centre in training; decoding uses the predicted one.
            shift = torch.stack([cx - t[:, 3], cy - t[:, 4]], 1).repeat(1, 4).detach() / anchor
            total_quad.append(F.smooth_l1_loss(q[:, 5:13] + shift, t[:, 7:15], reduction="none").mean(1))
            obj_target[b, y, x] = giou.detach().clamp(0).to(obj_target.dtype)
        total_obj = total_obj + weight * F.binary_cross_entropy_with_logits(p[:, 0], obj_target)
    box = torch.cat(total_box).mean() if total_box else preds[0].new_zeros(())
    quad = torch.cat(total_quad).mean() if total_quad else preds[0].new_zeros(())
    loss = 5.0 * total_obj + box + quad
    return loss, {"obj": float(total_obj.detach()), "box": float(box.detach()), "quad": float(quad.detach())}


def _giou(a: Any, b: Any) -> Any:
    import torch

    ix = (torch.min(a[:, 2], b[:, 2]) - torch.max(a[:, 0], b[:, 0])).clamp(0)
    iy = (torch.min(a[:, 3], b[:, 3]) - torch.max(a[:, 1], b[:, 1])).clamp(0)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter + 1e-9
    cw = torch.max(a[:, 2], b[:, 2]) - torch.min(a[:, 0], b[:, 0])
    ch = torch.max(a[:, 3], b[:, 3]) - torch.min(a[:, 1], b[:, 1])
    hull = cw * ch + 1e-9
    return inter / union - (hull - union) / hull


def rotate90(image: np.ndarray, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned ``k`` × 90° counter-clockwise (``np.rot90``) and ``points`` (…, 2) moved along."""
    h, w = image.shape[:2]
    pts, hh, ww = np.asarray(points, np.float32).copy(), h, w
    for _ in range(k % 4):  # np.rot90: (x, y) -> (y, W - x)
        pts = np.stack([pts[..., 1], ww - pts[..., 0]], -1)
        hh, ww = ww, hh
    return np.ascontiguousarray(np.rot90(image, k)), pts


def box_corners(boxes: np.ndarray) -> np.ndarray:
    """``(K, 4)`` boxes → ``(K, 4, 2)`` quads, upright top-left vertex first (clockwise)."""
    return np.asarray(boxes, np.float32)[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)


def rotated_photos(photos: list[FacePhoto]) -> list[FacePhoto]:
    """Each photo at 0, 90, 180 and 270 degrees (counter-clockwise), boxes rotated along."""
    out = []
    for p in photos:
        for k in range(4):
            image, pts = rotate90(p.image, box_corners(p.boxes), k)
            boxes = np.concatenate([pts.min(1), pts.max(1)], 1).astype(np.float32)
            out.append(FacePhoto(image, boxes, p.landmarks, p.identities, f"{p.source}@rot{90 * k}"))
    return out


def held_out_photos() -> list[FacePhoto]:
    return [p for p in load_photos() if p.source == HELD_OUT]


def evaluate_infer(
    infer: Any, photos: list[FacePhoto], input_size: int = 640, score_threshold: float = 0.5
) -> dict[str, float]:
    """AP@0.5, precision, recall of the SDK decoder over ``photos`` with ``infer``."""
    from biogate.exporters.data.face_detect_eval import detection_metrics
    from biogate.models.face_detect import YoloFaceDetector

    det = YoloFaceDetector(infer, input_size=input_size, score_threshold=score_threshold)

    def run(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = det.detect(image)
        return np.array([d.box for d in found]).reshape(-1, 4), np.array([d.score for d in found])

    return detection_metrics(run, photos)


def torch_infer(model: Any) -> Any:
    import torch

    def infer(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            p8, p16 = model(torch.from_numpy(inputs["image"]))
        return {"p8": p8.numpy(), "p16": p16.numpy()}

    return infer


def composite_photos(n: int, seed: int, canvas: int = CANVAS) -> list[FacePhoto]:
    """``n`` fresh composites as annotated photos (for thresholds and sanity checks)."""
    composer = Composer(seed, canvas)
    photos = []
    for i in range(n):
        img, boxes, _ = composer.sample()
        marks = np.zeros((len(boxes), 5, 2), np.float32)
        photos.append(FacePhoto(img, boxes, marks, ("x",) * len(boxes), f"c{seed}.{i}"))
    return photos


def pick_score_threshold(infer: Any, photos: list[FacePhoto], input_size: int) -> float:
    """The score threshold with the best F1 on ``photos`` (validation data, never the held-out set)."""
    best, best_f1 = 0.5, -1.0
    for thr in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
        m = evaluate_infer(infer, photos, input_size, thr)
        f1 = 2 * m["precision"] * m["recall"] / max(m["precision"] + m["recall"], 1e-9)
        if f1 > best_f1:
            best, best_f1 = thr, f1
    return best
