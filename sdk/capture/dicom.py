"""``dicom://`` — DX/CR radiographs from a detector's export folder (pydicom), as ``xray16``.

Grammar::

    dicom://path/to/export/[?watch=1&window=dicom|minmax|full|C,W&modalities=DX,CR&settle_s=0.5]

Every DICOM file in the folder is a frame (sorted by name); with ``watch`` (default on) a file
that appears later is a new frame, once it stopped growing for ``settle_s`` — the way an X-ray
detector's export folder is consumed. ``watch=0`` reads the folder as a finished set: every file
in it is delivered, in name order, without waiting for ``settle_s``, and the stream ends.
``existing=skip`` ignores files already there at open (refused with ``watch=0``).

Pixel pipeline: stored values → modality LUT (``RescaleSlope``/``RescaleIntercept``) → linear
window/level → 0–65535. ``window=dicom`` uses the file's ``WindowCenter``/``WindowWidth`` (the
first pair) and falls back to the full range of ``BitsStored``; ``minmax`` stretches the image's
own range; ``full`` always uses the ``BitsStored`` range; ``C,W`` gives the window explicitly.
``MONOCHROME1`` (low = white) is inverted so that in every ``xray16`` frame dense = bright.
A corrupt, truncated, non-DICOM or other-modality file is skipped with a warning naming it.
``meta`` carries technical tags only (no patient data).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._lazy import lazy_import
from ..errors import ConfigError, SourceError
from ..frame import Frame, now_ns
from ._folder import FolderSource, FolderWatcher
from .options import Option
from .source import Source
from .uri import SourceURI

GRAMMAR = "dicom://FOLDER/[?watch=0|1&window=dicom|minmax|full|C,W&modalities=DX,CR&existing=read|skip]"

OPTIONS = (
    Option("watch", "bool", True, "wait for new files after the existing ones"),
    Option("existing", "str", "read", "files already in the folder at open", choices=("read", "skip")),
    Option("poll_s", "float", 0.25, "folder poll interval", minimum=0.001, maximum=60.0),
    Option(
        "settle_s", "float", 0.5, "a new file is read once unchanged this long", minimum=0.0, maximum=3600.0
    ),
    Option("pattern", "str", "*", "comma-separated file globs"),
    Option("window", "str", "dicom", "dicom | minmax | full | CENTER,WIDTH"),
    Option("modalities", "str", "DX,CR", "accepted Modality values (comma-separated; * = any)"),
    Option("fps", "float", 0.0, "playback rate of the files (0 = as they come)", minimum=0.0, maximum=1000.0),
    Option("loop", "bool", False, "replay the folder (demos)"),
)

_TAGS = (
    ("Modality", "modality"),
    ("PhotometricInterpretation", "photometric"),
    ("BitsStored", "bits_stored"),
    ("SOPInstanceUID", "sop_instance_uid"),
    ("AcquisitionDateTime", "acquisition_datetime"),
    ("KVP", "kvp"),
    ("ExposureInuAs", "exposure_uas"),
    ("DetectorID", "detector_id"),
    ("ImagerPixelSpacing", "imager_pixel_spacing_mm"),
    ("BodyPartExamined", "body_part"),
)


def parse_window(text: str, name: str) -> tuple[float, float] | None:
    """``C,W`` → (center, width); the named modes → None. ConfigError on anything else."""
    if text in ("dicom", "minmax", "full"):
        return None
    try:
        center, width = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(
            f"source {name!r}: bad window {text!r}; valid: dicom, minmax, full or CENTER,WIDTH"
        ) from None
    if width <= 0:
        raise ConfigError(f"source {name!r}: window width must be > 0, got {width}")
    return center, width


def _first(value: Any) -> float:
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def window_to_xray16(values: np.ndarray, center: float, width: float, invert: bool) -> np.ndarray:
    """Linear window/level of modality values to uint16 0–65535 (``invert`` for MONOCHROME1)."""
    low = center - width / 2.0
    scaled = (values.astype(np.float32) - np.float32(low)) * np.float32(65535.0 / width)
    np.clip(scaled, 0.0, 65535.0, out=scaled)
    if invert:
        np.subtract(np.float32(65535.0), scaled, out=scaled)
    return np.rint(scaled).astype(np.uint16)


class DicomSource(FolderSource, Source):
    """DX/CR files from a folder (or one file), windowed to xray16."""

    LIVE = False

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        Source.__init__(self, uri, options)
        self.explicit_window = parse_window(str(options["window"]), self.name)
        mods = str(options["modalities"]).upper()
        self.modalities = None if mods.strip() == "*" else {m.strip() for m in mods.split(",") if m.strip()}
        self.single_file = uri.location if os.path.isfile(uri.location) else ""
        if not self.single_file and options["existing"] == "skip" and not options["watch"]:
            raise ConfigError(
                f"source {uri.raw!r}: existing=skip with watch=0 delivers nothing "
                "(skip the files there now, then stop); drop one of them"
            )
        self.watcher = FolderWatcher(
            uri.location, str(options["pattern"]).split(","), float(options["settle_s"]), self.name
        )
        self._pydicom: Any = None
        self._folder_init()

    def _open(self) -> None:
        self._pydicom = lazy_import("pydicom")
        FolderSource._open(self)
        if not self.single_file and self.options["existing"] == "skip":
            self.watcher.settle_ns, settle = 0, self.watcher.settle_ns
            self.watcher.poll()  # mark what is there now as seen
            self.watcher.settle_ns = settle

    def _decode(self, path: str) -> Frame | None:
        try:
            ds = self._pydicom.dcmread(path)
            modality = str(ds.get("Modality", "")).upper()
            if self.modalities is not None and modality not in self.modalities:
                raise SourceError(
                    f"Modality {modality or '(none)'} not in {','.join(sorted(self.modalities))}"
                )
            photometric = str(ds.get("PhotometricInterpretation", ""))
            if photometric not in ("MONOCHROME1", "MONOCHROME2"):
                raise SourceError(f"PhotometricInterpretation {photometric!r} is not MONOCHROME1/2")
            pixels = ds.pixel_array
        except SourceError:
            raise
        except Exception as exc:  # pydicom raises many types for corrupt/truncated files
            raise SourceError(f"not a readable DICOM image ({type(exc).__name__}: {exc})") from exc
        if pixels.ndim != 2:
            raise SourceError(f"expected one 2-D image, got pixel data of shape {pixels.shape}")
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
        values = pixels.astype(np.float32)
        if slope != 1.0 or intercept != 0.0:
            values *= np.float32(slope)
            values += np.float32(intercept)
        bits = int(ds.get("BitsStored", 16) or 16)
        signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
        window_source = str(self.options["window"])
        if self.explicit_window is not None:
            center, width = self.explicit_window
        elif window_source == "dicom" and "WindowCenter" in ds and "WindowWidth" in ds:
            center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        elif window_source == "minmax":
            lo, hi = float(values.min()), float(values.max())
            center, width = (lo + hi) / 2.0, max(hi - lo, 1.0)
        else:  # full stored range, through the modality LUT
            lo = -(2 ** (bits - 1)) if signed else 0
            hi = lo + 2**bits - 1
            ends = sorted((lo * slope + intercept, hi * slope + intercept))
            center, width = (ends[0] + ends[1]) / 2.0, max(ends[1] - ends[0], 1.0)
            window_source = "full" if window_source != "dicom" else "full (no window in file)"
        image = window_to_xray16(values, center, width, invert=(photometric == "MONOCHROME1"))
        meta: dict[str, Any] = {"path": path, "rescale_slope": slope, "rescale_intercept": intercept}
        for tag, key in _TAGS:
            if tag in ds:
                value = ds.get(tag)
                meta[key] = (
                    [float(v) for v in value]
                    if tag == "ImagerPixelSpacing"
                    else (value if isinstance(value, (int, float)) else str(value))
                )
        meta["window"] = {"center": center, "width": width, "source": window_source}
        return Frame(image, "xray16", now_ns(), meta=meta)


def create(uri: SourceURI, options: dict[str, Any]) -> DicomSource:
    """Build (not start) a DICOM folder source."""
    return DicomSource(uri, options)
