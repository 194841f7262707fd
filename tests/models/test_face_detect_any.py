"""The any-orientation face detector: geometry, tiling, and the real bundle on real turned faces."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.errors import ConfigError, UnfitModelError
from biogate.exporters.data.face_detect_data import (
    DetectPhoto,
    rotate_photo,
    rotation_matrix,
    transform_points,
)
from biogate.models.face_any_geometry import (
    CHANNELS,
    CONSENSUS_PENALTY,
    STRIDE,
    TILE,
    consensus_factors,
    decode_proposals,
    face_quad,
    level_scales,
    tiles,
)
from biogate.models.face_detect_any import AnyAngleFaceDetector


def test_face_quad_starts_at_the_upright_faces_top_left():
    q = face_quad(100, 50, 20, 0)
    assert np.allclose(q, [[90, 40], [110, 40], [110, 60], [90, 60]])
    # Turned 90° counter-clockwise: the face's top-left is now at the image's bottom-left.
    q90 = face_quad(100, 50, 20, 90)
    assert np.allclose(q90, [[90, 60], [90, 40], [110, 40], [110, 60]], atol=1e-4)


@pytest.mark.parametrize("angle", [90.0, 180.0, 270.0, 30.0, -30.0])
def test_quads_turn_with_the_photograph_and_keep_their_vertex_order(angle):
    photo = DetectPhoto(
        np.zeros((60, 80, 3), np.uint8),
        np.array([[10, 20, 30, 40]], np.float32),
        face_quad(20, 30, 20, 0)[None],
        np.zeros((0, 4), np.float32),
        "t",
    )
    turned = rotate_photo(photo, angle)
    expected = face_quad(
        *transform_points(np.array([[20.0, 30.0]]), rotation_matrix((60, 80), angle)[0])[0], 20, angle
    )
    assert np.allclose(turned.quads[0], expected, atol=1e-3)
    assert np.allclose(turned.boxes[0], np.concatenate([expected.min(0), expected.max(0)]), atol=1e-3)


def test_decode_maps_cells_to_image_pixels():
    raw = np.full((CHANNELS, 4, 5), -10.0, np.float32)
    raw[:, 2, 3] = [5.0, 0.25, -0.25, np.log(1.5), 0.0, 1.0]  # a face turned by +90°
    rows = decode_proposals(raw, scale=0.5, threshold=0.5, offset=(8, 16))
    assert rows.shape == (1, 5)
    cx, cy, side, angle, score = rows[0]
    assert cx == pytest.approx((3 * STRIDE + 2 + 4 + 16) / 0.5)
    assert cy == pytest.approx((2 * STRIDE + 2 - 4 + 8) / 0.5)
    assert side == pytest.approx(16 * 1.5 / 0.5, rel=1e-5) and angle == pytest.approx(90.0)
    assert score > 0.99
    with pytest.raises(ConfigError, match="proposal map"):
        decode_proposals(np.zeros((5, 2, 2), np.float32), 1.0, 0.5)


def test_tiles_cover_the_level_with_overlap():
    starts = tiles(1500, 700)
    assert (0, 0) in starts and all(y % STRIDE == 0 and x % STRIDE == 0 for y, x in starts)
    covered = np.zeros((1500, 700), bool)
    for y, x in starts:
        covered[y : y + TILE, x : x + TILE] = True
    assert covered.all()
    assert tiles(300, 200) == [(0, 0)]


def _bright_spot_proposer(inputs):
    """A real (if simple) proposal 'net': a face wherever the image is white, angle 0."""
    image = inputs["image"][0]
    h, w = image.shape[1] // STRIDE, image.shape[2] // STRIDE
    cells = image.mean(0)[: h * STRIDE, : w * STRIDE].reshape(h, STRIDE, w, STRIDE).mean((1, 3))
    maps = np.zeros((1, CHANNELS, h, w), np.float32)
    maps[0, 0] = np.where(cells > 0.9, 8.0, -8.0)
    maps[0, 3] = np.log(16.0 / 16.0)
    maps[0, 4] = 1.0
    return {"maps": maps}


def test_tiling_merges_duplicates_at_tile_seams():
    from biogate.models.face_any_geometry import Pyramid

    det = AnyAngleFaceDetector(_bright_spot_proposer, None, None, min_face=14.0, thresholds=(0.5, 0.5, 0.5))
    image = np.zeros((1200, 1400, 3), np.uint8)
    seam = tiles(1200, 1400)[1][1]  # x of the second tile: the first tile's overlap region
    x = seam + 32  # on the cell grid of both tiles
    image[600:604, x : x + 4] = 255  # one small white spot, seen by two tiles
    rows = det.propose(Pyramid(image))
    level0 = rows[np.abs(rows[:, 2] - 16.0) < 1e-3]
    assert len(level0) == 1  # the two tiles' detections of the spot are one proposal
    assert abs(level0[0, 0] - (x + 2)) <= STRIDE and abs(level0[0, 1] - 602) <= STRIDE


def test_faces_smaller_than_the_trained_level_face_are_found_on_an_enlarged_level():
    from biogate.models.face_any_geometry import LEVEL_FACE, Pyramid

    det = AnyAngleFaceDetector(_bright_spot_proposer, None, None, min_face=10.0, thresholds=(0.5, 0.5, 0.5))
    image = np.zeros((64, 80, 3), np.uint8)
    image[30:38, 40:48] = 255
    pyramid = Pyramid(image)
    rows = det.propose(pyramid)
    top = LEVEL_FACE / 10.0
    assert pyramid.at(top).shape[:2] == (round(64 * top), round(80 * top))  # an upscaled level
    assert len(rows) and np.hypot(rows[:, 0] - 44, rows[:, 1] - 34).min() <= STRIDE


def test_consensus_penalises_only_the_face_the_others_outvote():
    # Three confident faces turned by ~90°, one at 270°: only the odd one out loses score.
    factors = consensus_factors(np.array([88.0, 92.0, 95.0, 270.0]), np.array([0.99, 0.95, 0.9, 0.97]))
    assert factors.tolist() == [1.0, 1.0, 1.0, CONSENSUS_PENALTY]
    # Two faces that disagree: the surer one wins; angles wrap (350° and 10° agree).
    two = consensus_factors(np.array([0.0, 160.0]), np.array([0.99, 0.9]))
    assert two.tolist() == [1.0, CONSENSUS_PENALTY]
    assert consensus_factors(np.array([350.0, 10.0, 5.0]), np.ones(3)).tolist() == [1.0] * 3
    # Unsure faces do not vote; a lone face is left alone.
    unsure = consensus_factors(np.array([0.0, 180.0]), np.array([0.99, 0.5]))
    assert unsure.tolist() == [1.0, CONSENSUS_PENALTY]
    assert consensus_factors(np.array([0.0, 180.0]), np.array([0.7, 0.5])).tolist() == [1.0, 1.0]
    assert consensus_factors(np.array([45.0]), np.array([1.0])).tolist() == [1.0]


class _Recorder:
    """R-Net stand-in that accepts only crops turned by one angle (recorded per call)."""

    def __init__(self, accept):
        self.accept, self.calls = accept, []

    def __call__(self, inputs):
        n = len(inputs["image"])
        self.calls.append(n)
        prob = np.zeros((n, 2), np.float32)
        prob[:, 1] = self.accept(n)
        return {"prob": prob, "reg": np.zeros((n, 4), np.float32)}


def test_every_proposal_is_verified_at_each_turn_in_one_batch_and_keeps_its_best():
    from biogate.models.face_any_geometry import Pyramid

    # Hypotheses per proposal: its own angle, then +90, +180, +270; R-Net likes the +180 one best.
    rnet = _Recorder(lambda n: np.tile([0.1, 0.6, 0.9, 0.2], n // 4))
    det = AnyAngleFaceDetector(None, rnet, None, thresholds=(0.5, 0.5, 0.5), sizes=(1.0,), tilts=())
    rows = np.array([[40, 40, 30, 10, 0.9], [100, 60, 30, -20, 0.8]], np.float32)
    kept = det._rnet(Pyramid(np.zeros((120, 160, 3), np.uint8)), rows)
    assert rnet.calls == [8]  # 2 proposals x 4 turns, one batch
    assert kept[:, 3].tolist() == [190.0, 160.0] and np.allclose(kept[:, 4], 0.9)
    det.turns = 2  # the two best turns that pass go on (+180 and +90 of each)
    kept = det._rnet(Pyramid(np.zeros((120, 160, 3), np.uint8)), rows)
    assert sorted(kept[:, 3].tolist()) == [70.0, 100.0, 160.0, 190.0]
    # Sizes too: each turn at 1x, then at 2x for the proposals whose best 1x turn reached the gate.
    # (the 2x crops come best-ranked turn first: +90 for the first proposal)
    calls = iter([[0.1, 0.3, 0.1, 0.1, 0.05, 0.02, 0.01, 0.05], [0.95, 0.1, 0.1, 0.1]])
    rnet = _Recorder(lambda n: np.array(next(calls), np.float32))
    det = AnyAngleFaceDetector(
        None, rnet, None, thresholds=(0.5, 0.5, 0.5), sizes=(1.0, 2.0), size_gate=0.1, size_turns=4, tilts=()
    )
    kept = det._rnet(Pyramid(np.zeros((120, 160, 3), np.uint8)), rows)
    assert rnet.calls == [8, 4]  # the second proposal (best 0.05) is not tried at 2x
    assert kept[:, 3].tolist() == [100.0] and np.allclose(kept[:, 2], 60.0)  # 2x crop at +90


def test_the_best_turn_is_judged_tilted_and_the_best_two_turns_at_the_further_size():
    from biogate.models.face_any_geometry import Pyramid

    # Turns of each proposal at 1x (R-Net ranks +180 first, +90 second); then the two best turns
    # at 2x (4 crops); then the best turn tilted by -30 and +30 (4 crops): the first proposal's
    # face is 30 degrees short of its best turn, which only the tilted look sees.
    calls = iter(
        [
            [0.1, 0.6, 0.9, 0.2, 0.1, 0.6, 0.9, 0.2],
            [0.3, 0.3, 0.3, 0.3],
            [0.99, 0.2, 0.1, 0.2],
        ]
    )
    rnet = _Recorder(lambda n: np.array(next(calls), np.float32))
    det = AnyAngleFaceDetector(None, rnet, None, thresholds=(0.5, 0.5, 0.5), sizes=(1.0, 2.0))
    assert det.tilts == (-30.0, 30.0) and det.size_turns == 2  # the defaults
    rows = np.array([[40, 40, 30, 10, 0.9], [100, 60, 30, -20, 0.8]], np.float32)
    kept = det._rnet(Pyramid(np.zeros((120, 160, 3), np.uint8)), rows)
    assert rnet.calls == [8, 4, 4]
    by_x = kept[np.argsort(kept[:, 0])]
    assert by_x[:, 3].tolist() == [160.0, 160.0]  # 10 + 180 - 30, and -20 + 180 untilted
    assert np.allclose(by_x[:, 4], [0.99, 0.9]) and np.allclose(by_x[:, 2], 30.0)  # tilted at 1x
    assert det.last_timing["rnet_crops"] == 16
    # Upright mode never tilts.
    rnet = _Recorder(lambda n: np.full(n, 0.9, np.float32))
    upright = AnyAngleFaceDetector(None, rnet, None, rotate="upright", thresholds=(0.5,) * 3)
    upright._rnet(Pyramid(np.zeros((120, 160, 3), np.uint8)), rows)
    assert rnet.calls == [2, 2]  # 1x, then 2x... at its one turn


def test_the_orienter_picks_the_turn_r_net_cannot_tell():
    from biogate.models.face_any_geometry import Pyramid

    # R-Net likes +180 (0.9) over +90 (0.6); the quarter-turn classifier is sure it is +90.
    rnet = _Recorder(lambda n: np.tile([0.1, 0.6, 0.9, 0.2], n // 4))
    seen = []

    def orienter(inputs):
        seen.append(inputs["image"].shape)
        return {"prob": np.tile(np.array([0.02, 0.95, 0.02, 0.01], np.float32), (len(inputs["image"]), 1))}

    rows = np.array([[40, 40, 30, 10, 0.9], [100, 60, 30, -20, 0.8]], np.float32)
    det = AnyAngleFaceDetector(None, rnet, None, orienter, thresholds=(0.5, 0.5, 0.5), sizes=(1.0,), tilts=())
    kept = det._rnet(Pyramid(np.zeros((120, 160, 3), np.uint8)), rows)
    assert seen == [(2, 3, 24, 24)]  # one look per proposal, at its own angle
    assert kept[:, 3].tolist() == [100.0, 70.0] and np.allclose(kept[:, 4], 0.6)  # R-Net's score kept
    # Weight 0: R-Net alone decides again; upright mode never asks the classifier.
    det.orient_weight = 0.0
    assert det._rnet(Pyramid(np.zeros((120, 160, 3), np.uint8)), rows)[:, 3].tolist() == [190.0, 160.0]
    seen.clear()
    rnet = _Recorder(lambda n: np.full(n, 0.9, np.float32))
    upright = AnyAngleFaceDetector(None, rnet, None, orienter, rotate="upright", thresholds=(0.5,) * 3)
    upright._rnet(Pyramid(np.zeros((120, 160, 3), np.uint8)), rows)
    assert seen == []


def _manifest(folder, name, verdict):
    import json

    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / "manifest.json").write_text(json.dumps({"fitness": {"verdict": verdict}}))


def test_auto_takes_the_cascade_only_when_every_net_of_it_is_fit(tmp_path):
    from biogate.models.face_detectors import resolve_detector

    _manifest(tmp_path, "face_detect_any", "fit")
    assert resolve_detector(tmp_path) == "mtcnn"  # no face_orient bundle: fail closed
    _manifest(tmp_path, "face_orient", "unfit")
    assert resolve_detector(tmp_path) == "mtcnn"
    _manifest(tmp_path, "face_orient", "fit")
    assert resolve_detector(tmp_path) == "any"
    _manifest(tmp_path, "face_detect_any", "unmeasured")
    assert resolve_detector(tmp_path) == "mtcnn"


def test_turn_nms_keeps_one_face_at_different_quarter_turns():
    from biogate.models.face_any_geometry import turn_nms

    rows = np.array(
        [[50, 50, 30, 5, 0.9], [52, 50, 30, -10, 0.8], [50, 51, 30, 92, 0.7], [51, 50, 30, 185, 0.95]],
        np.float32,
    )
    # The two near 0° merge; the hypotheses at 90° and 180° both go on, best first.
    assert turn_nms(rows, 0.6).tolist() == [3, 0, 2]
    assert turn_nms(rows[:0], 0.6).tolist() == []


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="rotate"):
        AnyAngleFaceDetector(None, None, None, rotate="sideways")
    with pytest.raises(ConfigError, match="min_face"):
        level_scales(100, 100, 2.0)
    with pytest.raises(ConfigError, match="3 thresholds"):
        AnyAngleFaceDetector(None, None, None, thresholds=(0.5,))


def _astronaut_turned(angle):
    import skimage.data

    from biogate.exporters.data.face_detect_data import box_quads

    box = np.array([[165, 73, 263, 171]], np.float32)
    photo = DetectPhoto(skimage.data.astronaut(), box, box_quads(box), np.zeros((0, 4), np.float32), "a")
    return rotate_photo(photo, angle)


def test_the_bundle_loads_on_onnx_runtime_and_finds_turned_faces(detector_bundles):
    from biogate.models import load_face_detector

    det = load_face_detector(detector_bundles, "any", "any", min_face=40, threads=1, require_fit=False)
    assert isinstance(det, AnyAngleFaceDetector)
    assert det.proposer.info.backend == "onnxruntime"
    upright = det.detect(_astronaut_turned(0).image)
    assert len(upright) >= 1
    marks0 = min(upright, key=lambda f: float(np.linalg.norm(f.quad.mean(0) - (214, 122)))).landmarks
    for angle in (90.0, 180.0, 270.0, 30.0):
        turned = _astronaut_turned(angle)
        faces = det.detect(turned.image)
        assert faces, f"no face at {angle}°"
        centre = turned.quads[0].mean(0)
        best = min(faces, key=lambda f: float(np.linalg.norm(f.quad.mean(0) - centre)))
        m, _ = rotation_matrix((512, 512), angle)
        # The quad starts at the turned face's own top-left, and the landmarks turn with the face.
        side = float(np.linalg.norm(turned.quads[0][1] - turned.quads[0][0]))
        assert np.linalg.norm(best.quad[0] - turned.quads[0][0]) < 0.35 * side, angle
        assert np.abs(best.landmarks - transform_points(marks0, m)).max() < 0.15 * side, angle
        assert abs(((best.extra["angle"] - angle) + 180) % 360 - 180) < 20, angle
        assert all(-180.0 <= f.extra["angle"] < 180.0 for f in faces)  # one convention for every face


def test_upright_mode_and_the_factory(detector_bundles):
    from biogate.models import MTCNNDetector, load_face_detector
    from biogate.models.face_detectors import resolve_detector

    # The fixture's bundle carries no measured fitness: "auto" never picks an unfit detector.
    assert resolve_detector(detector_bundles) == "mtcnn"
    with pytest.raises(UnfitModelError, match="face_detect_any"):
        load_face_detector(detector_bundles, "any", min_face=40, threads=1)
    det = load_face_detector(
        detector_bundles, "any", rotate="upright", min_face=40, threads=1, require_fit=False
    )
    assert det.rotate == "upright" and len(det.detect(_astronaut_turned(0).image)) >= 1
    with pytest.raises(ConfigError, match="unknown face detector"):
        load_face_detector(detector_bundles, "yolo")
    assert resolve_detector(detector_bundles / "nowhere") == "mtcnn"
    assert MTCNNDetector  # the fallback class stays importable


def test_a_folder_without_the_orientation_bundle_is_refused_not_half_used(detector_bundles, tmp_path):
    import shutil

    from biogate.errors import BundleError
    from biogate.models import load_face_detector
    from biogate.models.face_detectors import resolve_detector

    for name in ("face_detect_any", "mtcnn_rnet", "mtcnn_onet"):
        shutil.copytree(detector_bundles / name, tmp_path / name)
    assert resolve_detector(tmp_path) == "mtcnn"
    with pytest.raises(BundleError, match="face_orient"):
        load_face_detector(tmp_path, "any", require_fit=False)


def test_the_proposal_budget_grows_with_the_frame():
    from biogate.models.face_any_geometry import Pyramid

    def everywhere(inputs):  # a face score at every cell, tiny boxes: nothing merges
        n, _, h, w = inputs["image"].shape
        maps = np.zeros((n, CHANNELS, h // STRIDE, w // STRIDE), np.float32)
        maps[:, 0], maps[:, 3] = 5.0, -3.0
        return {"maps": maps}

    det = AnyAngleFaceDetector(everywhere, None, None, max_proposals=10, min_face=100)
    assert len(det.propose(Pyramid(np.zeros((500, 500, 3), np.uint8)))) == 10  # under 1 MP: the floor
    det.min_face = 400.0  # few, small pyramid levels: the test stays fast
    assert len(det.propose(Pyramid(np.zeros((2000, 2000, 3), np.uint8)))) == 40  # 4 MP: 4x
