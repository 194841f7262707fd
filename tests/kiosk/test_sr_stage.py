"""The optional SR stage: the embedder then aligns the face on the super-resolved crop.

Uses the real SuperResolver (with a bicubic ×2 engine standing in for the SR network) and the
real alignment of FaceEmbedder; the chip made from the enhanced crop must match the chip made
from the original frame, so the landmark mapping into the crop is right.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from biogate.frame import Frame
from biogate.kiosk.findings import Findings
from biogate.kiosk.stages import EmbedStage, SuperResolveStage
from biogate.models.face_chain import FaceChain
from biogate.models.face_detect import FaceDetection
from biogate.models.face_embed import FaceEmbedder
from biogate.models.super_resolution import SuperResolver
from biogate.pipeline import Work


def bicubic_x2(inputs):
    lr = inputs["lr"].transpose(0, 2, 3, 1)
    up = np.stack([cv2.resize(im, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for im in lr])
    return {"sr": up.transpose(0, 3, 1, 2)}


class ChipRecorder:
    """Embeds by recording the aligned chip the real FaceEmbedder would feed its network."""

    def __init__(self):
        self.aligner = FaceEmbedder(engine=None)
        self.chips = []

    def embed(self, image, faces, order="RGB"):
        self.chips.append(self.aligner.chip(image, faces[0], order))
        return [type("E", (), {"embedding": np.ones(128, np.float32)})()]


@pytest.fixture()
def astronaut():
    face_data = pytest.importorskip("biogate.exporters.data.face_data")
    photo = next(p for p in face_data.load_photos() if p.source == "skimage:astronaut")
    bgr = np.ascontiguousarray(photo.image[:, :, ::-1])
    box, marks = photo.boxes[0], photo.landmarks[0]
    quad = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]], np.float32)
    face = FaceDetection(box=box, quad=quad, score=1.0, landmarks=marks, landmark_scheme="dlib5")
    return bgr, face


def test_embedding_uses_the_super_resolved_crop_with_mapped_landmarks(astronaut):
    bgr, face = astronaut
    work = Work(Frame(bgr, "bgr8", 0), Findings())
    work.results.face = face
    recorder = ChipRecorder()
    chain = FaceChain(None, recorder, resolver=SuperResolver(bicubic_x2, input_size=64))
    SuperResolveStage(chain).process(work)
    enhanced = work.results.enhanced
    assert enhanced.image.shape == (128, 128, 3) and enhanced.landmarks is not None
    EmbedStage(chain).process(work)
    EmbedStage(FaceChain(None, recorder)).process(Work(Frame(bgr, "bgr8", 0), results=Findings(face=face)))
    from_sr, from_frame = (c.astype(np.float32) for c in recorder.chips)
    # Same alignment: the chips differ only by the resampling, not by a shift or rotation.
    assert np.abs(from_sr - from_frame).mean() < 12.0
    shifted = np.roll(from_frame, 6, axis=1)
    assert np.abs(from_sr - from_frame).mean() < 0.3 * np.abs(shifted - from_frame).mean()


def test_identify_refuses_refine_without_sr():
    import argparse

    from biogate import ConfigError
    from biogate.cli.cmd_identify import _enhancer

    with pytest.raises(ConfigError, match="--sr"):
        _enhancer(argparse.Namespace(sr=None, refine="bundles/face_refine", precision="auto"))
    assert _enhancer(argparse.Namespace(sr=None, refine=None, precision="auto")) is None
