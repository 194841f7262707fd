"""Write simulated palm radiographs the way an X-ray detector's export folder holds them.

DICOM DX "for processing" files (read back by the ``dicom://`` capture driver) plus a
``labels.csv``; the images come from :func:`biogate.sim.xray.simulate`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from biogate.errors import ConfigError

from .xray import ScanConfig, simulate


def write_dicom(
    path: str | Path,
    counts: np.ndarray,
    cfg: ScanConfig,
    *,
    subject: str,
    instance: int = 1,
    pixel_mm: float | None = None,
    comments: str = "",
) -> Path:
    """Write ``counts`` as a DICOM DX "for processing" image, the way a detector's export folder holds it.

    UIDs derive from ``subject``/``instance`` so the same sample always gives the same file.
    """
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    if counts.dtype != np.uint16 or counts.ndim != 2:
        raise ConfigError(f"write_dicom needs a 2-D uint16 image, got {counts.dtype} {counts.shape}")
    path = Path(path)
    sop_class = "1.2.840.10008.5.1.4.1.1.1.1.1"  # Digital X-Ray Image Storage - For Processing
    sop_uid = generate_uid(entropy_srcs=["biogate-palm", subject, str(instance), str(counts.shape)])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["biogate-palm-study", subject])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["biogate-palm-series", subject])
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "DX", "HAND", "PA"
    ds.PatientID, ds.PatientName = subject, "Anonymous"
    ds.InstanceNumber = instance
    ds.Manufacturer, ds.ManufacturerModelName = "biogate", "palm-xray-simulator"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PresentationIntentType = "FOR PROCESSING"
    ds.KVP, ds.DetectorType = 60, "SCINTILLATOR"
    spacing = pixel_mm if pixel_mm is not None else cfg.fov_mm / counts.shape[0]
    ds.ImagerPixelSpacing = ds.PixelSpacing = [f"{spacing:.4f}", f"{spacing:.4f}"]
    # Raw, linear in detected dose: open beam high, which displays black as MONOCHROME1.
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1"
    ds.Rows, ds.Columns = counts.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, cfg.bits, cfg.bits - 1, 0
    ds.ImageComments = comments or "synthetic palm radiograph (biogate.sim.xray)"
    ds.PixelData = np.ascontiguousarray(counts).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_folder(
    folder: str | Path,
    kinds: dict[str, int],
    seed: int,
    cfg: ScanConfig | None = None,
    resolution: str = "lr",
) -> list[dict[str, Any]]:
    """Write a detector-style export folder of DICOM files plus ``labels.csv`` (id, label, kind).

    ``kinds`` maps each kind to how many samples to render; ``resolution`` is ``lr`` or ``hr``.
    """
    if resolution not in ("lr", "hr"):
        raise ConfigError(f"resolution must be 'lr' or 'hr', got {resolution!r}")
    cfg = cfg or ScanConfig()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    n = 0
    for kind, count in kinds.items():
        for i in range(count):
            scan = simulate(kind, seed, i, cfg)
            n += 1
            name = f"IMG{n:05d}.dcm"
            write_dicom(folder / name, getattr(scan, resolution), cfg, subject=scan.subject, instance=n)
            rows.append(dict(id=name, label=scan.label, kind=kind, subject=scan.subject))
    with open(folder / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "label", "kind", "subject"])
        writer.writeheader()
        writer.writerows(rows)
    return rows
