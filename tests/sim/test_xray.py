"""The palm radiograph simulator: determinism, Beer–Lambert physics, fakes, DICOM round trip."""

from __future__ import annotations

import numpy as np
import pytest

import biogate
from biogate.errors import ConfigError
from biogate.models.palm import log_attenuation, transmission
from biogate.sim import xray as X
from biogate.sim import xray_dicom


def test_same_seed_same_scan_and_different_index_differs():
    a = X.simulate("live", 5, 3)
    b = X.simulate("live", 5, 3)
    c = X.simulate("live", 5, 4)
    assert np.array_equal(a.lr, b.lr) and np.array_equal(a.hr, b.hr) and a.params == b.params
    assert not np.array_equal(a.lr, c.lr)
    cfg = X.ScanConfig()
    assert a.lr.shape == (cfg.lr_size, cfg.lr_size) and a.hr.shape == (cfg.hr_size, cfg.hr_size)
    assert a.lr.dtype == np.uint16 and int(a.lr.max()) < 2**cfg.bits


def test_materials_bone_attenuates_more_than_soft_tissue():
    mu = X.MU_PER_CM
    assert mu["cortical"] > mu["trabecular"] > mu["soft"]
    assert mu["cortical"] > 3 * mu["soft"]


def test_live_scene_bone_pixels_attenuate_more_than_soft_only_pixels():
    cfg = X.ScanConfig()
    hand = X.sample_hand(np.random.default_rng(0))
    xs, ys = X._grid(cfg)
    bone_path, _ = X._skeleton_paths(xs, ys, hand, 0.6)
    tissue = X._tissue(xs, ys, hand, cfg)
    a, _ = X._live_line_integral(np.random.default_rng(1), hand, cfg)
    bone = (bone_path > 4.0) & (tissue > 10.0)
    soft = (bone_path == 0) & (tissue > 15.0)
    assert bone.sum() > 500 and soft.sum() > 500
    # Attenuation per mm of hand thickness: bone-bearing paths far above soft-tissue-only paths.
    assert (a[bone] / tissue[bone]).mean() > 1.5 * (a[soft] / tissue[soft]).mean()
    # Beer–Lambert on the detector: bone bright after the log transform, the open beam near 0.
    hr_a = log_attenuation(X.simulate("live", 1, 0).hr)
    assert hr_a.max() > 0.3 and np.percentile(hr_a, 5) < 0.02


def _inner_detail(counts: np.ndarray) -> float:
    """High-pass energy inside the hand, away from its outline: bone edges and texture."""
    import cv2

    a = log_attenuation(counts)
    hand = (a > 0.08).astype(np.uint8)
    inner = cv2.erode(hand, np.ones((9, 9), np.uint8)) > 0
    hp = a - cv2.GaussianBlur(a, (0, 0), 2.0)
    return float(np.std(hp[inner]))


def test_rubber_hand_has_no_bone_contrast():
    live = np.mean([_inner_detail(X.simulate("live", 2, i).hr) for i in range(3)])
    rubber = np.mean([_inner_detail(X.simulate("rubber", 2, i).hr) for i in range(3)])
    assert rubber < 0.5 * live


def test_every_fake_kind_renders_with_label_zero():
    for kind in X.FAKE_KINDS:
        scan = X.simulate(kind, 3, 0)
        assert scan.label == 0 and scan.kind == kind and scan.lr.any()
    assert X.simulate("live", 3, 0).label == 1


def test_unknown_kind_and_defect_are_clear_errors():
    with pytest.raises(ConfigError, match="valid: live"):
        X.simulate("latex", 0, 0)
    with pytest.raises(ConfigError, match="defect"):
        X.simulate("live", 0, 0, defect="smudge")


def test_dicom_round_trip_through_pydicom(tmp_path):
    import pydicom

    scan = X.simulate("live", 4, 0)
    path = xray_dicom.write_dicom(tmp_path / "a.dcm", scan.lr, X.ScanConfig(), subject=scan.subject)
    ds = pydicom.dcmread(path)
    assert ds.Modality == "DX" and ds.BitsStored == 14 and ds.PhotometricInterpretation == "MONOCHROME1"
    assert np.array_equal(ds.pixel_array, scan.lr)
    again = xray_dicom.write_dicom(tmp_path / "b.dcm", scan.lr, X.ScanConfig(), subject=scan.subject)
    assert pydicom.dcmread(again).SOPInstanceUID == ds.SOPInstanceUID  # deterministic UIDs


def test_dicom_round_trip_through_the_capture_driver(tmp_path):
    rows = xray_dicom.write_folder(tmp_path, {"live": 2, "rubber": 1}, seed=6)
    assert [r["kind"] for r in rows] == ["live", "live", "rubber"]
    with biogate.open_source(f"dicom://{tmp_path}?watch=0&settle_s=0") as src:
        frames = list(src)
    assert len(frames) == 3 and all(f.format == "xray16" for f in frames)
    for frame, (kind, i) in zip(frames, [("live", 0), ("live", 1), ("rubber", 0)]):
        counts = X.simulate(kind, 6, i).lr
        # The driver maps the 14-bit range onto 16 bits and inverts MONOCHROME1 (dense = bright);
        # the palm chain undoes both, so the attenuation image matches the simulator's.
        back = transmission(frame)
        assert np.allclose(back.astype(float), counts * (65535 / 16383), atol=1.0)
        assert np.allclose(log_attenuation(back), log_attenuation(counts), atol=2e-3)
