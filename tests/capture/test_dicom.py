"""dicom:// with real pydicom files: MONOCHROME1/2, rescale, window, new files, corrupt files."""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

import biogate
from biogate.errors import ConfigError, SourceDisconnected


def write_dicom(
    path, pixels, photometric="MONOCHROME2", bits=12, slope=None, intercept=None, window=None, modality="DX"
):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName = "Secret^Person"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, 0
    ds.KVP = 55
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def publish_dicom(path, pixels):
    """Write then rename, as a detector export does, so the watcher never sees half a file."""
    tmp = path.parent / ("." + path.name)
    write_dicom(tmp, pixels)
    os.replace(tmp, path)


RAMP = np.tile(np.arange(0, 4096, 64, dtype=np.uint16), (4, 1))  # 4 x 64, full 12-bit range


def _read_all(uri):
    with biogate.open_source(uri) as src:
        return list(src), src


def test_monochrome2_full_range_and_meta(tmp_path):
    write_dicom(tmp_path / "img1.dcm", RAMP)
    frames, _ = _read_all(f"dicom://{tmp_path}?watch=0&settle_s=0")
    (f,) = frames
    assert f.format == "xray16" and f.image.shape == (4, 64)
    assert f.image[0, 0] == 0 and f.image[0, -1] > 64000
    assert np.all(np.diff(f.image[0].astype(int)) > 0)  # monotonic: dense = bright kept
    assert f.meta["modality"] == "DX" and f.meta["kvp"] == 55
    assert f.meta["window"]["source"].startswith("full")
    assert "PatientName" not in str(f.meta) and "Secret" not in str(f.meta)


def test_monochrome1_is_inverted_and_dicom_window_used(tmp_path):
    write_dicom(tmp_path / "m1.dcm", RAMP, photometric="MONOCHROME1", window=(2048, 2048))
    (f,), _ = _read_all(f"dicom://{tmp_path}?watch=0&settle_s=0")
    assert f.meta["window"] == {"center": 2048.0, "width": 2048.0, "source": "dicom"}
    row = f.image[0].astype(int)
    assert row[0] == 65535 and row[-1] == 0  # MONOCHROME1: low stored value = white = dense
    assert np.all(np.diff(row) <= 0)
    inside = (RAMP[0] > 1024) & (RAMP[0] < 3072)
    assert 0 < row[inside].min() < row[inside].max() < 65535


def test_rescale_slope_intercept_and_explicit_window(tmp_path):
    write_dicom(tmp_path / "r.dcm", RAMP, slope=2.0, intercept=-1000.0)
    (f,), _ = _read_all(f"dicom://{tmp_path}?watch=0&settle_s=0&window=3000,2000")
    values = RAMP[0].astype(float) * 2.0 - 1000.0
    expected = np.clip((values - 2000.0) / 2000.0, 0, 1) * 65535
    assert np.allclose(f.image[0], expected, atol=1.0)
    assert f.meta["rescale_slope"] == 2.0 and f.meta["rescale_intercept"] == -1000.0
    (g,), _ = _read_all(f"dicom://{tmp_path}?watch=0&settle_s=0&window=minmax")
    assert g.image.min() == 0 and g.image.max() == 65535
    with pytest.raises(ConfigError, match="bad window"):
        biogate.open_source(f"dicom://{tmp_path}?window=bright")


def test_corrupt_truncated_and_wrong_modality_files_are_skipped(tmp_path, caplog):
    write_dicom(tmp_path / "a_good.dcm", RAMP)
    good = (tmp_path / "a_good.dcm").read_bytes()
    (tmp_path / "b_truncated.dcm").write_bytes(good[: len(good) - 300])
    (tmp_path / "c_garbage.dcm").write_bytes(b"\x00" * 50)
    write_dicom(tmp_path / "d_ct.dcm", RAMP, modality="CT")
    write_dicom(tmp_path / "e_cr.dcm", RAMP, modality="CR")
    with caplog.at_level(logging.WARNING, "biogate.capture"):
        frames, src = _read_all(f"dicom://{tmp_path}?watch=0&settle_s=0")
    assert [f.meta["path"].rsplit("/", 1)[1] for f in frames] == ["a_good.dcm", "e_cr.dcm"]
    assert src.stats()["skipped"] == 3
    for name in ("b_truncated.dcm", "c_garbage.dcm", "d_ct.dcm"):
        assert name in caplog.text
    assert "Modality CT not in CR,DX" in caplog.text


def test_new_file_in_watched_folder_is_a_new_frame(tmp_path):
    write_dicom(tmp_path / "001.dcm", RAMP)
    with biogate.open_source(f"dicom://{tmp_path}?poll_s=0.01&settle_s=0") as src:
        assert src.read(timeout=5).meta["path"].endswith("001.dcm")
        assert src.read(timeout=0.05) is None  # nothing new yet, no repeat
        publish_dicom(tmp_path / "002.dcm", RAMP[:, ::-1].copy())
        f = src.read(timeout=5)
        assert f is not None and f.meta["path"].endswith("002.dcm") and f.image[0, 0] > 60000


def test_existing_skip_and_folder_disappearing(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    write_dicom(folder / "old.dcm", RAMP)
    src = biogate.open_source(f"dicom://{folder}?existing=skip&poll_s=0.01&settle_s=0")
    try:
        publish_dicom(folder / "new.dcm", RAMP)
        assert src.read(timeout=5).meta["path"].endswith("new.dcm")
        shutil.rmtree(folder)
        with pytest.raises(SourceDisconnected, match="is gone"):
            src.read(timeout=5)
    finally:
        src.close()


def test_folder_comes_back_with_reconnect(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    src = biogate.open_source(
        f"dicom://{folder}?poll_s=0.01&settle_s=0", reconnect=True, backoff_initial_s=0.01, backoff_max_s=0.02
    )
    try:
        shutil.rmtree(folder)
        assert src.read(timeout=0.2) is None  # reconnecting, not failed
        folder.mkdir()
        publish_dicom(folder / "after.dcm", RAMP)
        f = src.read(timeout=5)
        assert f.meta["path"].endswith("after.dcm") and f.meta["outage"]["attempts"] >= 1
        assert src.stats()["reconnects"] == 1
    finally:
        src.close()
