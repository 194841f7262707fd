"""FaceEmbedder and ``biogate identify`` end to end on real photographs (PyTorch-backed nets)."""

from __future__ import annotations

import argparse
import importlib.util

import cv2
import numpy as np
import pytest
import skimage.data

from biogate.cli import cmd_identify
from biogate.errors import BiogateError, ConfigError
from biogate.exporters.data import weight_packages
from biogate.models.face_detect import FaceDetection, MTCNNDetector
from biogate.models.face_embed import FaceEmbedder

pytestmark = pytest.mark.skipif(
    not weight_packages.available("facenet_pytorch")
    or importlib.util.find_spec("face_recognition_models") is None,
    reason="needs MTCNN weights (python -m biogate.exporters.data.weight_packages), face_recognition_models",
)
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def pipeline():
    torch.set_num_threads(1)
    from biogate.exporters import registry
    from biogate.exporters.convert.runners import torch_infer as spec_infer
    from biogate.exporters.zoo.mtcnn import torch_infer

    detector = MTCNNDetector(torch_infer("pnet"), torch_infer("rnet"), torch_infer("onet"), min_face=40)
    spec = registry.get("face_embed_dlib")
    embedder = FaceEmbedder(spec_infer(spec, spec.build()), thresholds=spec.thresholds)
    return detector, embedder


@pytest.fixture()
def gallery(tmp_path):
    from biogate.gallery import Gallery, GalleryKey

    g = Gallery(tmp_path / "faces.db", GalleryKey.generate(), create=True)
    yield g
    g.close()


def _embed_one(pipeline, rgb):
    detector, embedder = pipeline
    faces = detector.detect(rgb)
    return embedder.embed(rgb, [max(faces, key=lambda f: f.size)])[0]


def _args(source, **kw):
    base = dict(source=str(source), gallery="unused", key_file=None, bundles="unused", embedder=None)
    base.update(top_k=1, threshold=None, every=1, candidates=3, min_face=40.0, precision="auto", json=False)
    base.update(kw)
    return argparse.Namespace(**base)


def test_embeddings_are_unit_norm_and_same_person_is_close(pipeline):
    astro = skimage.data.astronaut()
    a = _embed_one(pipeline, astro)
    b = _embed_one(pipeline, cv2.GaussianBlur(cv2.convertScaleAbs(astro, alpha=0.8, beta=20), (0, 0), 1.0))
    c = _embed_one(pipeline, np.dstack([skimage.data.camera()] * 3))
    assert a.embedding.shape == (128,) and abs(np.linalg.norm(a.embedding) - 1) < 1e-5
    _, embedder = pipeline
    assert embedder.same_person(a, b) and a.cosine(b) > embedder.thresholds["cosine"]
    assert not embedder.same_person(a, c) and a.cosine(c) < embedder.thresholds["cosine"]


def test_embedder_bad_inputs(pipeline):
    _, embedder = pipeline
    no_marks = FaceDetection(
        box=np.array([0, 0, 50, 50], np.float32), quad=np.zeros((4, 2), np.float32), score=1.0
    )
    with pytest.raises(ConfigError, match="landmarks"):
        embedder.embed(skimage.data.astronaut(), [no_marks])
    with pytest.raises(ConfigError, match="chips must be"):
        embedder.embed_chips(np.zeros((2, 112, 112, 3), np.uint8))
    assert embedder.embed(skimage.data.astronaut(), []) == []


def test_identify_a_clip_picks_the_sharp_frame_and_the_right_person(pipeline, gallery, tmp_path):
    astro = skimage.data.astronaut()
    gallery.enroll("E1", "Eileen Collins", _embed_one(pipeline, astro).embedding[None])
    hanks = np.dstack([skimage.data.camera()] * 3)
    gallery.enroll("C2", "Cameraman", _embed_one(pipeline, hanks).embedding[None])
    clip = tmp_path / "clip"
    clip.mkdir()
    bgr = np.ascontiguousarray(astro[:, :, ::-1])
    for i in range(5):  # blurred frames around one sharp, slightly brighter one
        frame = cv2.convertScaleAbs(bgr, alpha=1.05, beta=5) if i == 3 else cv2.GaussianBlur(bgr, (0, 0), 4.0)
        cv2.imwrite(str(clip / f"{i:03d}.png"), frame)
    detector, embedder = pipeline
    result = cmd_identify.identify(_args(clip), detector, embedder, gallery)
    assert result["frame"]["seq"] == 3  # the sharp frame
    assert result["faces"][0]["identity"] == "E1"
    assert result["faces"][0]["score"] > embedder.thresholds["cosine"]
    assert {"select_ms", "detect_ms", "align_ms", "embed_ms", "match_ms", "total_ms"} <= set(
        result["timing_ms"]
    )
    assert cmd_identify.exit_status(result) == 0


def test_identify_unknown_no_face_grey_16bit(pipeline, gallery, tmp_path):
    gallery.enroll("E1", "Eileen Collins", _embed_one(pipeline, skimage.data.astronaut()).embedding[None])
    detector, embedder = pipeline
    grey16 = tmp_path / "camera16.png"
    cv2.imwrite(str(grey16), skimage.data.camera().astype(np.uint16) * 257)  # 16-bit grey, not enrolled
    result = cmd_identify.identify(_args(grey16), detector, embedder, gallery)
    assert len(result["faces"]) == 1 and result["faces"][0]["identity"] is None
    assert cmd_identify.exit_status(result) == cmd_identify.EXIT_UNKNOWN
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((200, 300, 3), 90, np.uint8))
    result = cmd_identify.identify(_args(blank), detector, embedder, gallery)
    assert result["faces"] == [] and cmd_identify.exit_status(result) == cmd_identify.EXIT_NO_FACE
    with pytest.raises(ConfigError, match="does not exist"):
        cmd_identify.identify(_args(tmp_path / "missing.mp4"), detector, embedder, gallery)
    with pytest.raises(BiogateError):
        cmd_identify.identify(_args(blank, top_k=0), detector, embedder, gallery)


def test_identify_several_faces(pipeline, gallery):
    from biogate.exporters.data.face_data import load_photos

    photos = {p.source: p for p in load_photos()}
    if "insightface:t1.jpg" not in photos:
        pytest.skip("the group photograph needs: python -m biogate.exporters.data.weight_packages")
    group = photos["insightface:t1.jpg"].image
    detector, embedder = pipeline
    faces = detector.detect(group)
    embs = embedder.embed(group, faces)
    big = [e for e in embs if e.detection.score > 0.9]
    assert len(big) >= 6
    gallery.enroll("P3", "third", big[2].embedding[None])
    path = gallery.path + ".png"
    cv2.imwrite(path, np.ascontiguousarray(group[:, :, ::-1]))
    result = cmd_identify.identify(_args(path), detector, embedder, gallery)
    assert len(result["faces"]) >= 6
    assert [f["identity"] for f in result["faces"]].count("P3") == 1
