"""The single-stage detector: decoding, target assignment, rotation geometry, a tiny training step."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.models.face_detect import YOLO_CHANNELS, YOLO_LEVELS, YoloFaceDetector, decode_yolo


def _maps(size: int):
    return [np.full((YOLO_CHANNELS, size // s, size // s), -20.0, np.float32) for s, _ in YOLO_LEVELS]


def test_decode_one_cell():
    raw = _maps(64)
    stride, anchor = YOLO_LEVELS[0]
    cell = raw[0][:, 2, 3]  # y = 2, x = 3
    cell[0] = 20.0  # objectness ~1
    cell[1:5] = 0.0  # centre offset 0.5 cell, side = anchor
    quad = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], np.float32)
    cell[5:13] = quad.reshape(-1)
    scores, boxes, quads = decode_yolo(raw, 0.5)
    cx, cy = (3 + 0.5) * stride, (2 + 0.5) * stride
    assert scores.shape == (1,) and scores[0] > 0.99
    np.testing.assert_allclose(boxes[0], [cx - anchor / 2, cy - anchor / 2, cx + anchor / 2, cy + anchor / 2])
    np.testing.assert_allclose(quads[0], np.array([cx, cy]) + quad * anchor)
    with pytest.raises(ConfigError, match="YOLO level"):
        decode_yolo([np.zeros((5, 4, 4), np.float32)], 0.5)


def test_detector_maps_back_through_the_letterbox():
    seen = {}

    def engine(inputs):
        x = inputs["image"]
        seen["shape"] = x.shape
        raw = [
            np.full((1, YOLO_CHANNELS, x.shape[2] // s, x.shape[3] // s), -20.0, np.float32)
            for s, _ in YOLO_LEVELS
        ]
        raw[1][0, 0, 1, 1] = 20.0  # stride 16, cell (1, 1): centre (24, 24), side 72 in input pixels
        raw[1][0, 1:13, 1, 1] = 0.0
        return {"p8": raw[0], "p16": raw[1]}

    det = YoloFaceDetector(engine, input_size=320)
    found = det.detect(np.zeros((200, 400, 3), np.uint8))  # scale 0.8 → 320x160, padded to 320x160
    assert seen["shape"] == (1, 3, 160, 320)
    assert len(found) == 1
    np.testing.assert_allclose(
        found[0].box, [0, 0, (24 + 36) / 0.8, (24 + 36) / 0.8], atol=1e-4
    )  # clipped at 0
    np.testing.assert_allclose(found[0].quad, np.full((4, 2), 24 / 0.8), atol=1e-4)
    assert found[0].landmarks is None
    assert det.detect(np.zeros((200, 400), np.uint16)) != []  # grey 16-bit input is accepted


def test_target_assignment_picks_level_and_neighbours():
    from biogate.exporters.training.train_face_detector import build_targets

    box = np.array([[40, 40, 64, 64]], np.float32)  # 24 px: level 0 (anchor 24); 24/72 < 4 also fits level 1
    quad = np.array([[[40, 40], [64, 40], [64, 64], [40, 64]]], np.float32)
    t8, t16 = (x["t"] for x in build_targets([box], [quad], 128))
    # Centre (52, 52) → stride-8 cell 6.5: cells (6,6), its neighbour to the right and below (frac >= 0.5).
    assert sorted((int(r[2]), int(r[1])) for r in t8) == [(6, 6), (6, 7), (7, 6)]
    np.testing.assert_allclose(t8[0, 7:15], ((quad[0] - 52) / YOLO_LEVELS[0][1]).reshape(-1))
    assert len(t16) == 3
    huge = np.array([[0, 0, 127, 127]], np.float32)
    t8, _ = (x["t"] for x in build_targets([huge], [quad * 0], 128))
    assert len(t8) == 0  # 127 px is more than 4x the stride-8 anchor


def test_rotated_photos_move_boxes_with_pixels():
    from biogate.exporters.data.face_data import FacePhoto
    from biogate.exporters.training.train_face_detector import rotated_photos

    img = np.zeros((30, 50, 3), np.uint8)
    img[5:10, 20:28] = 255
    photo = FacePhoto(img, np.array([[20, 5, 28, 10]], np.float32), np.zeros((1, 5, 2)), ("a",), "t")
    for p in rotated_photos([photo]):
        ys, xs = np.nonzero(p.image[:, :, 0])
        np.testing.assert_allclose(p.boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def test_tiny_training_reduces_the_loss():
    torch = pytest.importorskip("torch")
    from biogate.exporters.nets.yolo_face import YoloFace
    from biogate.exporters.training.train_face_detector import Composer, build_targets, loss_fn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    composer = Composer(seed=1, canvas=64)
    samples = [composer.sample() for _ in range(4)]
    x = torch.from_numpy(np.stack([s[0] for s in samples]).astype(np.float32) / 255).permute(0, 3, 1, 2)
    targets = build_targets([s[1] for s in samples], [s[2] for s in samples], 64)
    model = YoloFace(width=4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss, _ = loss_fn(model(x), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    # Adam at lr 1e-2 wobbles for the first steps: compare the ends, with a 10% margin.
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), losses


def test_shipped_weights_reproduce_their_recorded_held_out_metrics():
    """The numbers in yolo_face.json (and docs/face.md) come from these weights on the real photo."""
    pytest.importorskip("torch").set_num_threads(1)
    from biogate.exporters.zoo import face_detect_yolo as spec_module

    if not spec_module.WEIGHTS.is_file() or "metrics" not in spec_module._record():
        pytest.skip("no trained yolo_face weights: biogate train face_detect_yolo --data composites")
    from biogate.exporters.training.train_face_detector import torch_infer

    metrics = spec_module.evaluate(torch_infer(spec_module.build()))
    recorded = spec_module._record()["metrics"]["held_out_real"]
    assert metrics["faces"] == 24.0
    for key in ("ap50", "recall", "precision"):
        assert metrics[key] == pytest.approx(recorded[key], abs=1e-6)
