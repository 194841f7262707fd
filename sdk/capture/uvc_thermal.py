"""``uvc-thermal://`` — PureThermal (FLIR Lepton 2.5/3.5) UVC cameras streaming Y16, as ``celsius32``.

Grammar::

    uvc-thermal:///dev/videoN | uvc-thermal://N [?format=celsius32|y16&resolution=0.01&telemetry=auto|none
        &emissivity=E&reflected_c=T&blackbody=x,y,w,h&blackbody_c=T[&blackbody2=..&blackbody2_c=..]
        &spot_size=N&roi=x,y,w,h&ffc_settle_frames=N]

The camera runs in radiometric TLinear mode: every Y16 sample is temperature in units of
``resolution`` kelvin (0.01 = centi-kelvin, the PureThermal default; 0.1 in low-gain mode), so
°C = v × 0.01 − 273.15 (a wrong scale is the classic "24–29 °C for a 10–15 °C object" bug).
Y16 is requested explicitly with ``CONVERT_RGB`` off, so OpenCV hands over the raw samples.

With telemetry enabled in the PureThermal firmware the frame carries extra rows (160×122 for a
Lepton 3.x, 80×63 for a 2.x); ``telemetry=auto`` detects them, strips them (a view, no copy) and
reads telemetry row A: FFC state, frame counter, FPA temperature, time of last FFC. Without
telemetry an FFC is recognised from bit-identical consecutive frames (the Lepton repeats the
last frame while its shutter is closed). Frames during an FFC and ``ffc_settle_frames`` after it
are flagged ``meta["measurable"] = False``. Blackbody, emissivity, spot-meter and ROI options:
:mod:`biogate.capture.thermal_stream`. Tested with a faithful fake of the capture object; it has
not run against a real PureThermal board (see docs/capture.md).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import SourceError
from ..frame import Frame
from ._opencv import CaptureFactory, OpenCVDeviceSource, fourcc_code
from .options import Option
from .radiometry import centikelvin_to_celsius
from .thermal_stream import THERMAL_OPTIONS, ThermalProcessor
from .uri import SourceURI

GRAMMAR = (
    "uvc-thermal:///dev/videoN|uvc-thermal://N[?format=celsius32|y16&resolution=0.01&telemetry=auto|none]"
)

OPTIONS = (
    Option(
        "format",
        "str",
        "celsius32",
        "celsius32 (processed) or y16 (raw TLinear)",
        choices=("celsius32", "y16"),
    ),
    Option("resolution", "float", 0.01, "kelvin per count (TLinear resolution)", choices=(0.01, 0.1)),
    Option("telemetry", "str", "auto", "telemetry rows at the bottom of the frame", choices=("auto", "none")),
    Option("read_timeout_ms", "int", 2000, "a read blocked longer than this is a lost device", minimum=1),
    *THERMAL_OPTIONS,
)

_FFC_STATES = ("never", "imminent", "in_progress", "complete")
#: Sensor rows of the Lepton families; frames taller than these carry telemetry rows.
_SENSOR_HEIGHTS = {160: 120, 80: 60}


def parse_telemetry_row_a(words: np.ndarray) -> dict[str, Any]:
    """Decode Lepton telemetry row A (80 uint16 words, host order) into named fields.

    Word layout (Lepton software IDD): 0 revision; 1–2 uptime ms; 3–4 status bits (bit 3 FFC
    desired, bits 4–5 FFC state, bit 12 AGC, bit 15 shutter lockout, bit 20 over-temperature);
    20–21 frame counter; 22 frame mean; 24 FPA temperature (cK); 29 FPA temperature at last
    FFC (cK); 30–31 uptime at last FFC (ms). 32-bit values are least-significant word first.
    """
    w = [int(v) for v in words[:32]]
    status = w[3] | (w[4] << 16)
    return {
        "revision": w[0],
        "uptime_ms": w[1] | (w[2] << 16),
        "ffc_desired": bool(status & 0x8),
        "ffc_state": _FFC_STATES[(status >> 4) & 0x3],
        "shutter_lockout": bool(status & 0x8000),
        "overtemp_imminent": bool(status & 0x100000),
        "frame_counter": w[20] | (w[21] << 16),
        "frame_mean": w[22],
        "fpa_temp_c": w[24] / 100.0 - 273.15,
        "fpa_temp_last_ffc_c": w[29] / 100.0 - 273.15,
        "last_ffc_ms": w[30] | (w[31] << 16),
    }


def as_y16(image: np.ndarray) -> np.ndarray:
    """OpenCV's Y16 output as (h, w) uint16: it is either that already, or the packed bytes."""
    if image.dtype == np.uint16:
        return image.reshape(image.shape[0], -1) if image.ndim == 3 else image
    if image.dtype == np.uint8 and image.ndim >= 2:
        packed = np.ascontiguousarray(image.reshape(image.shape[0], -1))
        return packed.view("<u2")  # reinterpret in place: (h, 2w) bytes → (h, w) samples
    raise SourceError(
        f"Y16 frame has unexpected layout {image.dtype} {image.shape}; is the camera in Y16 mode?"
    )


def split_telemetry(y16: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(image rows, telemetry words or None) for a Lepton frame with optional footer rows."""
    height, width = y16.shape
    sensor = _SENSOR_HEIGHTS.get(width)
    if sensor is None or height <= sensor:
        return y16, None
    return y16[:sensor], y16[sensor:].reshape(-1)


class UvcThermalSource(OpenCVDeviceSource):
    """A PureThermal/Lepton board read as radiometric Y16 through OpenCV V4L2."""

    def __init__(
        self, uri: SourceURI, options: dict[str, Any], capture_factory: CaptureFactory | None = None
    ):
        super().__init__(uri, options, capture_factory)
        self._proc = (
            ThermalProcessor(options, self.name, self._count) if options["format"] == "celsius32" else None
        )

    def _properties(self) -> list[tuple[str, int, Any]]:
        return [
            ("fourcc", cv2.CAP_PROP_FOURCC, fourcc_code("Y16 ", self.name)),
            ("convert_rgb", cv2.CAP_PROP_CONVERT_RGB, 0),
            ("buffers", cv2.CAP_PROP_BUFFERSIZE, 2),
        ]

    def _grab(self) -> Frame | None:
        image, t_capture, stamp = self._read()
        y16 = as_y16(image)
        telemetry = None
        if self.options["telemetry"] == "auto":
            y16, words = split_telemetry(y16)
            if words is not None and words.size >= 80:
                telemetry = parse_telemetry_row_a(words[:80])
        meta: dict[str, Any] = {
            "timestamp": stamp,
            "device": self.device,
            "resolution_k": self.options["resolution"],
        }
        if telemetry is not None:
            meta["telemetry"] = telemetry
        if self._proc is None:
            if telemetry is not None:
                meta["ffc"] = telemetry["ffc_state"] == "in_progress"
            return Frame(y16, "y16", t_capture, meta=meta)
        celsius = centikelvin_to_celsius(y16, float(self.options["resolution"]))  # the one conversion copy
        celsius, thermal_meta = self._proc.process(
            celsius, t_capture, raw=y16, ffc_state=telemetry["ffc_state"] if telemetry else None
        )
        meta.update(thermal_meta)
        return Frame(celsius, "celsius32", t_capture, meta=meta)


def create(
    uri: SourceURI, options: dict[str, Any], capture_factory: CaptureFactory | None = None
) -> UvcThermalSource:
    """Build (not start) a UVC thermal source; ``capture_factory(device, api)`` replaces cv2.VideoCapture."""
    return UvcThermalSource(uri, options, capture_factory)
