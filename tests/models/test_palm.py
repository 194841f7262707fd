"""Device side of seed 001: normalisation, quality check, SR/liveness wrappers, the scanner chain."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.frame import Frame
from biogate.models.palm import (
    RECOGNITION_ERROR,
    RECOGNITION_SUCCESS,
    RESCAN,
    PalmLiveness,
    PalmQuality,
    PalmScanner,
    PalmSR,
    log_attenuation,
)
from biogate.models.palm_log import DecisionLog, load_image, read_log
from biogate.sim import xray as X
from biogate.sim import xray_dicom


def test_log_attenuation_is_exposure_invariant_and_checks_input():
    scan = X.simulate("live", 11, 0)
    a = log_attenuation(scan.lr)
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    doubled = np.clip(scan.lr.astype(np.int64) // 2, 0, 65535).astype(np.uint16)
    assert np.abs(log_attenuation(doubled) - a).mean() < 0.01
    with pytest.raises(ConfigError, match="2-D"):
        log_attenuation(np.zeros((2, 3, 4), np.uint16))
    with pytest.raises(ConfigError, match="open-beam"):
        log_attenuation(np.zeros((8, 8), np.uint16))


def test_quality_accepts_good_scans_and_names_each_failure():
    q = PalmQuality()
    good = [q(X.simulate("live", 12, i).lr) for i in range(4)]
    assert all(r.ok for r in good), [(r.sharpness, r.reasons) for r in good]
    partial = q(X.simulate("live", 12, 0, defect="partial").lr)
    assert not partial.ok and any("complete" in r for r in partial.reasons)
    dark = q(X.simulate("live", 12, 1, defect="underexposed").lr)
    assert not dark.ok and any("exposed" in r for r in dark.reasons)
    blurred = [q(X.simulate("live", 12, i, defect="blur").lr) for i in range(4)]
    assert sum(not r.ok for r in blurred) >= 3
    with pytest.raises(ConfigError, match="uint16"):
        q(np.zeros((8, 8), np.float32))


def test_sr_and_liveness_wrappers_shapes(palm_onnx):
    sr_engine, live_engine = palm_onnx
    lr = X.simulate("live", 13, 0).lr
    second = PalmSR(sr_engine)(lr)
    assert second.shape == (128, 128) and second.dtype == np.float32
    assert second.min() >= 0.0 and second.max() <= 1.0
    result = PalmLiveness(live_engine, threshold=0.6)(second)
    assert 0.0 <= result.score <= 1.0 and result.is_live == (result.score > 0.6)
    with pytest.raises(ConfigError, match="threshold"):
        PalmLiveness(live_engine, threshold=1.5)


def test_scanner_decides_logs_and_rescans(tmp_path, palm_onnx, fixed_engine):
    sr_engine, _ = palm_onnx
    log = DecisionLog(tmp_path / "log", model_version="t1")
    frame_counts = X.simulate("live", 14, 0).lr
    frame = Frame(np.uint16(65535) - frame_counts, "xray16", 123, source="dicom://x/")  # dense = bright
    live = PalmScanner(PalmLiveness(fixed_engine(0.9)), PalmSR(sr_engine), PalmQuality(), log)
    d = live.process(frame)
    assert d.message == RECOGNITION_SUCCESS and d.t_capture == 123 and d.log_id
    fake = PalmScanner(PalmLiveness(fixed_engine(0.1)), PalmSR(sr_engine), None, log)
    assert fake.process(frame_counts).message == RECOGNITION_ERROR
    refused = PalmScanner(PalmLiveness(fixed_engine(0.9)), None, None, identify=lambda img: False)
    assert refused.process(frame_counts).message == RECOGNITION_ERROR
    rescan = live.process(X.simulate("live", 14, 1, defect="partial").lr)
    assert rescan.message == RESCAN and rescan.liveness is None
    entries = read_log(tmp_path / "log")
    assert [e["is_live"] for e in entries] == [True, False]
    assert np.array_equal(load_image(tmp_path / "log", entries[0], "raw"), frame_counts)
    assert load_image(tmp_path / "log", entries[0], "sr").shape == (128, 128)


def test_scanner_runs_on_a_dicom_source(tmp_path, fixed_engine):
    xray_dicom.write_folder(tmp_path / "export", {"live": 2}, seed=15)
    scanner = PalmScanner(PalmLiveness(fixed_engine(0.8)), quality=PalmQuality())
    decisions = list(scanner.run(f"dicom://{tmp_path / 'export'}?watch=0&settle_s=0"))
    assert [d.message for d in decisions] == [RECOGNITION_SUCCESS] * 2
    assert all(d.source.startswith("dicom://") for d in decisions)
    logged = PalmScanner(PalmLiveness(fixed_engine(0.8)), log=DecisionLog(tmp_path / "log"))
    list(logged.run(f"dicom://{tmp_path / 'export'}?watch=0&settle_s=0&pattern=*.dcm"))
    paths = [e["path"] for e in read_log(tmp_path / "log")]
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["IMG00001.dcm", "IMG00002.dcm"]


def test_scanner_runs_on_an_xray_raw_source(tmp_path, fixed_engine):
    counts = X.simulate("live", 16, 0).lr
    path = tmp_path / "frames.raw"
    path.write_bytes(counts.astype("<u2").tobytes())  # a transmission detector: open beam bright
    scanner = PalmScanner(PalmLiveness(fixed_engine(0.8)), quality=PalmQuality())
    (d,) = scanner.run(f"xray-raw://{path}?w=64&h=64&invert=1&bits=16")
    assert d.message == RECOGNITION_SUCCESS and d.quality.ok
