"""MTCNN cascade post-processing on known outputs, the cascade's wiring, and real detections."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.exporters.data import weight_packages
from biogate.exporters.data.face_detect_eval import average_precision, detection_metrics
from biogate.frame import Frame, to_rgb8
from biogate.models.detect_ops import apply_regression, crop_resize, nms, square
from biogate.models.face_detect import MTCNNDetector, pnet_candidates, pyramid_scales


def test_pnet_candidates_map_cells_to_image_boxes():
    prob = np.zeros((3, 4), np.float32)
    prob[1, 2] = 0.9
    prob[2, 0] = 0.5  # below threshold
    reg = np.zeros((4, 3, 4), np.float32)
    reg[:, 1, 2] = [0.1, -0.1, 0.2, 0.0]
    rows = pnet_candidates(prob, reg, scale=0.5, threshold=0.6)
    # Cell (y=1, x=2), stride 2, cell 12, at half scale: x 4/0.5 .. 16/0.5, y 2/0.5 .. 14/0.5.
    np.testing.assert_allclose(rows, [[8, 4, 32, 28, 0.9, 0.1, -0.1, 0.2, 0.0]], rtol=1e-6)
    assert pnet_candidates(prob, reg, 1.0, 0.95).shape == (0, 9)


def test_nms_union_and_min():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # IoU(0,1) = 81/119 = 0.68; box 3 lies inside box 0 (IoU 0.16, intersection/min = 1).
    assert nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    assert nms(boxes, scores, 0.5, mode="min").tolist() == [3, 2]
    with pytest.raises(ConfigError, match="NMS mode"):
        nms(boxes, scores, 0.5, mode="max")


def test_regression_and_square():
    boxes = np.array([[0, 0, 10, 20]], np.float32)
    np.testing.assert_allclose(apply_regression(boxes, np.array([[0.1, 0.1, -0.1, 0.2]])), [[1, 2, 9, 24]])
    np.testing.assert_allclose(square(boxes), [[-5, 0, 15, 20]])


def test_crop_resize_pads_outside_with_zeros():
    img = np.full((10, 10, 3), 200, np.uint8)
    crop = crop_resize(img, np.array([[-5, -5, 5, 5]], np.float32), 10)[0]
    assert crop.shape == (10, 10, 3)
    assert (crop[:5, :5] == 0).all() and (crop[5:, 5:] == 200).all()


def test_pyramid_scales():
    scales = pyramid_scales(100, 200, min_face=20, factor=0.5)
    assert scales == pytest.approx([0.6, 0.3, 0.15])  # 100 px * 0.15 = 15 >= 12; next 7.5 < 12
    with pytest.raises(ConfigError):
        pyramid_scales(100, 100, min_face=1, factor=0.7)


def test_average_precision_known_values():
    # Two faces; ranked detections TP, FP, TP → precision 1, 1/2, 2/3 → AP = 0.5*1 + 0.5*2/3.
    assert average_precision(np.array([True, False, True]), np.array([0.9, 0.8, 0.7]), 2) == pytest.approx(
        0.5 + 1 / 3
    )
    assert average_precision(np.array([], bool), np.array([]), 3) == 0.0


class _WhiteSquareNets:
    """Fake nets: P-Net scores each 12x12 window by its IoU with the white pixels it can see;
    R-Net/O-Net score a crop by its share of white pixels; no regression; fixed landmarks."""

    marks = np.array([0.3, 0.7, 0.5, 0.35, 0.65, 0.35, 0.35, 0.55, 0.75, 0.75], np.float32)

    @staticmethod
    def _white(x):
        return (x[:, 0] > 0.9).astype(np.float32)

    def pnet(self, inputs):
        white = self._white(inputs["image"])[0]
        total = white.sum()
        h, w = (white.shape[0] - 12) // 2 + 1, (white.shape[1] - 12) // 2 + 1
        inter = np.array(
            [[white[2 * y : 2 * y + 12, 2 * x : 2 * x + 12].sum() for x in range(w)] for y in range(h)]
        )
        p = inter / np.maximum(144 + total - inter, 1)
        return {"prob": np.stack([1 - p, p])[None], "reg": np.zeros((1, 4, h, w), np.float32)}

    def rnet(self, inputs):
        p = self._white(inputs["image"]).mean(axis=(1, 2))
        return {"prob": np.stack([1 - p, p], 1), "reg": np.zeros((len(p), 4), np.float32)}

    def onet(self, inputs):
        out = self.rnet(inputs)
        out["landmarks"] = np.tile(self.marks, (len(out["prob"]), 1))
        return out


def test_cascade_wiring_finds_the_white_square():
    from biogate.models.detect_ops import iou_one_to_many

    nets = _WhiteSquareNets()
    det = MTCNNDetector(nets.pnet, nets.rnet, nets.onet, min_face=24, thresholds=(0.6, 0.9, 0.9))
    img = np.zeros((160, 200, 3), np.uint8)
    img[30:78, 40:88] = 255
    found = det.detect(img)
    assert found
    square_box = np.array([40, 30, 88, 78], np.float32)
    overlaps = iou_one_to_many(square_box, np.array([f.box for f in found]))
    assert overlaps.min() >= 0.5 and overlaps.max() >= 0.8
    for f in found:
        x0, y0, x1, y1 = f.box
        np.testing.assert_allclose(f.quad, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        # Landmarks are mapped through the O-Net input box (the box before its regression, zero here).
        np.testing.assert_allclose(f.landmarks[:, 0], x0 + nets.marks[:5] * (x1 - x0), atol=1e-3)
        np.testing.assert_allclose(f.landmarks[:, 1], y0 + nets.marks[5:] * (y1 - y0), atol=1e-3)
    assert det.detect(np.zeros((160, 200, 3), np.uint8)) == []  # no face
    assert det.detect(np.zeros((8, 8, 3), np.uint8)) == []  # smaller than any face


def test_image_inputs():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_rgb8(rgb[:, :, ::-1], "BGR"), rgb)
    np.testing.assert_array_equal(
        to_rgb8(Frame(image=rgb[:, :, ::-1].copy(), format="bgr8", t_capture=0)), rgb
    )
    grey = to_rgb8(rgb[:, :, 0])
    assert grey.shape == (6, 7, 3) and (grey[:, :, 0] == grey[:, :, 2]).all()
    twelve_bit = rgb.astype(np.uint16) * 16  # a 12-bit sensor's range
    assert np.abs(to_rgb8(twelve_bit).astype(int) - rgb).max() <= 1
    with pytest.raises(ConfigError, match="shape"):
        to_rgb8(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ConfigError, match="dtype"):
        to_rgb8(np.zeros((4, 4), np.int32))
    with pytest.raises(ConfigError, match="order"):
        to_rgb8(rgb, "YUV")


needs_mtcnn = pytest.mark.skipif(
    not weight_packages.available("facenet_pytorch"),
    reason="MTCNN weights need: python -m biogate.exporters.data.weight_packages",
)


@pytest.fixture(scope="module")
def mtcnn():
    pytest.importorskip("torch").set_num_threads(1)
    from biogate.exporters.zoo.mtcnn import detector

    return detector()


@needs_mtcnn
def test_real_mtcnn_on_real_photos(mtcnn):
    from biogate.exporters.data.face_data import load_photos

    photos = load_photos()
    found = {}

    def run(image):
        faces = mtcnn.detect(image)
        found[len(found)] = faces
        return np.array([f.box for f in faces]).reshape(-1, 4), np.array([f.score for f in faces])

    metrics = detection_metrics(run, photos)
    assert metrics["recall"] == 1.0 and metrics["ap50"] >= 0.95
    group = [p.source for p in photos].index("insightface:t1.jpg") if len(photos) > 2 else None
    if group is not None:  # several faces in one photograph: every one found, landmarks inside its box
        faces = found[group]
        assert sum(f.score > 0.9 for f in faces) >= 6
        for f in faces:
            assert f.landmark_scheme == "mtcnn5" and f.landmarks.shape == (5, 2)


@needs_mtcnn
def test_real_mtcnn_grey_and_16_bit_and_no_face(mtcnn):
    import skimage.data

    astro = skimage.data.astronaut()
    ref = mtcnn.detect(astro)
    grey = mtcnn.detect(skimage.data.camera())  # a grey photograph with one face
    assert len(grey) >= 1 and grey[0].score > 0.9
    sixteen = mtcnn.detect(astro.astype(np.uint16) * 257)
    assert len(sixteen) == len(ref)
    np.testing.assert_allclose(sixteen[0].box, ref[0].box, atol=1.0)
    assert mtcnn.detect(np.full((240, 320, 3), 128, np.uint8)) == []
