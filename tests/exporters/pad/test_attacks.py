"""Attack generators: deterministic under a seed, shape-preserving, and actually altering the face."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.exporters.pad.attacks import ATTACKS, apply_attack, attack_names, camera_capture
from biogate.exporters.pad.protocol import evaluation_set, present, split_faces


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    from skimage import data

    img = data.astronaut()[20:220, 140:340]
    import cv2

    return cv2.resize(img, (96, 96), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("name", attack_names())
def test_attack_is_deterministic_under_a_seed(face: np.ndarray, name: str) -> None:
    before = face.copy()
    a = apply_attack(face, name, seed=11)
    b = apply_attack(face, name, seed=11)
    c = apply_attack(face, name, seed=12)
    np.testing.assert_array_equal(face, before)  # input untouched
    assert a.dtype == np.uint8 and a.shape == face.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a.astype(int) - face.astype(int)).mean() > 2.0  # the attack changes the image


def test_every_attack_is_documented() -> None:
    families = {a.family for a in ATTACKS.values()}
    assert families == {"print", "replay", "partial"}
    for attack in ATTACKS.values():
        assert attack.description and attack.ranges
        assert all(lo <= hi for lo, hi in attack.ranges.values())
        params = attack.sample_params(np.random.default_rng(0))
        assert all(attack.ranges[k][0] <= v <= attack.ranges[k][1] for k, v in params.items())


def test_unknown_attack_names_the_choices(face: np.ndarray) -> None:
    with pytest.raises(KeyError, match="print_halftone"):
        apply_attack(face, "mask_3d", seed=0)
    with pytest.raises(ConfigError, match="mask_3d"):
        evaluation_set([face], 16, seed=0, attacks=["mask_3d"])


def test_presentations_share_one_capture_path(face: np.ndarray) -> None:
    g1, g2 = present(face, 32, seed=5), present(face, 32, seed=5)
    np.testing.assert_array_equal(g1, g2)
    assert g1.shape == (32, 32, 3)
    s = evaluation_set([face, face[::-1]], 16, seed=3, captures=2, attacks=["replay_moire", "cut_eyes"])
    assert s.bona_fide.shape == (4, 16, 16, 3)
    assert set(s.attacks) == {"replay_moire", "cut_eyes"} and s.attacks["cut_eyes"].shape == (2, 16, 16, 3)
    out = camera_capture(face, 24, np.random.default_rng(0))
    assert out.shape == (24, 24, 3) and out.dtype == np.uint8


def test_split_is_disjoint_and_seeded() -> None:
    faces = [np.full((4, 4, 3), i, np.uint8) for i in range(20)]
    a, b = split_faces(faces, seed=1), split_faces(faces, seed=1)
    ids = lambda xs: [int(x[0, 0, 0]) for x in xs]  # noqa: E731
    assert ids(a.train) == ids(b.train) and ids(a.test) == ids(b.test)
    assert not set(ids(a.train)) & set(ids(a.val)) and not set(ids(a.train)) & set(ids(a.test))
    assert len(a.train) + len(a.val) + len(a.test) == 20
    with pytest.raises(ConfigError, match="too few"):
        split_faces(faces[:2])


def test_genuine_faces_from_an_image_folder(tmp_path) -> None:
    import cv2

    from biogate.exporters.pad.protocol import load_genuine_faces

    (tmp_path / "a" / "b").mkdir(parents=True)
    img = np.zeros((20, 30, 3), np.uint8)
    img[..., 2] = 200  # red in BGR on disk
    cv2.imwrite(str(tmp_path / "a" / "one.png"), img)
    cv2.imwrite(str(tmp_path / "a" / "b" / "two.jpg"), img)
    (tmp_path / "notes.txt").write_text("not an image")
    faces = load_genuine_faces(tmp_path)
    assert len(faces) == 2 and faces[0].shape == (20, 30, 3)
    assert faces[0][..., 0].mean() > 150  # returned as RGB
    with pytest.raises(ConfigError, match="neither"):
        load_genuine_faces(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images"):
        load_genuine_faces(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ConfigError, match="cannot decode"):
        load_genuine_faces(tmp_path / "bad")
