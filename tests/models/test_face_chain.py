"""The one face chain: detection order and size filter, SR hand-over, the tracker's embed(frame, box)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.frame import Frame
from biogate.models import FaceChain
from biogate.models.detect_ops import box_quads
from biogate.models.face_detect import FaceDetection


def _face(x0, y0, x1, y1):
    box = np.array([x0, y0, x1, y1], np.float32)
    return FaceDetection(box, box_quads(box[None])[0], 0.99, np.zeros((5, 2), np.float32), "mtcnn5")


class Boxes:
    """Detects the given boxes, shifted into whatever crop it is shown (by the crop's origin)."""

    def __init__(self, *faces):
        self.faces = faces
        self.seen = []

    def detect(self, image, order="RGB"):
        self.seen.append((image.shape, order))
        return [f for f in self.faces if f.box[2] <= image.shape[1] and f.box[3] <= image.shape[0]]


class Recorder:
    def __init__(self):
        self.thresholds = {"cosine": 0.9}
        self.calls = []

    def embed(self, image, faces, order="RGB"):
        self.calls.append((image.shape, faces[0], order))
        return [SimpleNamespace(embedding=np.full(128, float(image.shape[0]), np.float32))]


def test_faces_are_largest_first_and_small_ones_dropped():
    big, small, mid = _face(0, 0, 120, 120), _face(0, 0, 30, 30), _face(0, 0, 80, 60)
    chain = FaceChain(Boxes(small, mid, big), Recorder(), min_face_px=50)
    assert chain.faces(np.zeros((200, 200, 3), np.uint8), "BGR") == [big, mid]
    assert FaceChain(Boxes(small, big), Recorder()).faces(np.zeros((200, 200, 3), np.uint8)) == [big, small]
    assert chain.thresholds == {"cosine": 0.9}


def test_refiner_needs_a_super_resolver():
    with pytest.raises(ConfigError, match="super-resol"):
        FaceChain(Boxes(), Recorder(), refiner=lambda image, marks: image)


def test_embed_uses_the_enhanced_crop_only_when_it_has_landmarks():
    embedder = Recorder()
    chain = FaceChain(Boxes(), embedder)
    image, face = np.zeros((100, 100, 3), np.uint8), _face(10, 10, 50, 50)
    chain.embed(image, face, "BGR")
    enhanced = SimpleNamespace(image=np.zeros((64, 64, 3), np.uint8), landmarks=np.ones((5, 2), np.float32),
                               to_image=lambda pts: np.asarray(pts, np.float32) * 0.5)  # fmt: skip
    chain.embed(image, face, "BGR", enhanced)
    no_marks = SimpleNamespace(image=enhanced.image, landmarks=None)
    chain.embed(image, face, "BGR", no_marks)
    (s0, f0, o0), (s1, f1, o1), (s2, _, o2) = embedder.calls
    assert (s0, o0) == ((100, 100, 3), "BGR") and f0 is face
    assert (s1, o1) == ((64, 64, 3), "RGB") and np.allclose(f1.box, face.box * 0.5)  # moved into the crop
    assert (s2, o2) == ((100, 100, 3), "BGR")
    assert chain.enhance(image, face) is None  # no super-resolver configured


def test_embed_box_detects_inside_the_box_of_a_frame():
    detector, embedder = Boxes(_face(2, 2, 40, 40)), Recorder()
    chain = FaceChain(detector, embedder)
    frame = Frame(np.zeros((120, 160, 3), np.uint8), "bgr8", 0)
    emb = chain.embed_box(frame, (10, 20, 50, 60))
    assert emb.shape == (128,) and emb[0] == 60.0  # embedded on the 60-row crop of the box
    assert detector.seen[-1] == ((60, 50, 3), "RGB")
    with pytest.raises(ConfigError, match="no face inside the box"):
        FaceChain(Boxes(), embedder).embed_box(frame, (0, 0, 10, 10))
