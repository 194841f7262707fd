"""``mlx90640://`` — Melexis MLX90640 32×24 thermopile arrays over I2C (Adafruit library, lazy).

Grammar::

    mlx90640://i2c-N[?rate=0.5|1|2|4|8|16|32|64&frequency=HZ&chess_threshold_c=C&max_errors=K
        &emissivity=E&blackbody=x,y,w,h&blackbody_c=T&...]

The sensor is read with ``adafruit_mlx90640.MLX90640(i2c).getFrame(buf)`` on bus N through
``adafruit_extended_bus.ExtendedI2C(N)`` (Blinka's ``busio.I2C(board.SCL, board.SDA)`` when that
package is absent). The device is known to misbehave (anchors §2), so each frame is checked:

* ``getFrame`` errors (``ValueError``/``RuntimeError``: too many retries, bad frame data) are
  retried up to ``max_errors`` times in a row, counted in ``stats()["frame_errors"]``;
* values that are not finite or outside the sensor's −40…300 °C range reject the frame
  (``invalid_frames``: the checksum the library does not do);
* a frame identical to the previous one is not new data and is never delivered
  (``stale_frames``); a frame where one chess-pattern subpage is unchanged while the other moved
  is flagged ``meta["stale_subpage"]`` and a residual chessboard pattern above
  ``chess_threshold_c`` is flagged ``meta["chess_artifact"]``; both mark the frame not measurable;
* an ``OSError`` on the bus (Errno 121 after minutes of running, adafruit#33) re-initialises the
  bus and sensor with capped exponential back-off — ``reconnect`` is on by default here — and
  the outage is recorded in ``stats()["outages"]`` and in the next frame's ``meta["outage"]``.

Frames are ``celsius32`` (24, 32) processed by :mod:`biogate.capture.thermal_stream`
(blackbody, emissivity, spot/ROI). Tested with a faithful fake of the Adafruit objects; it has
not run on a real sensor here (see docs/capture.md).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import numpy as np

from .._lazy import lazy_import
from ..errors import ConfigError, SourceDisconnected, SourceError
from ..frame import Frame, now_ns
from .options import Option
from .source import Source
from .thermal_stream import THERMAL_OPTIONS, ThermalProcessor
from .uri import SourceURI

GRAMMAR = "mlx90640://i2c-N[?rate=0.5|1|2|4|8|16|32|64&frequency=HZ&chess_threshold_c=C&max_errors=K]"
ROWS, COLS = 24, 32
_RATES = {
    0.5: "REFRESH_0_5_HZ",
    1: "REFRESH_1_HZ",
    2: "REFRESH_2_HZ",
    4: "REFRESH_4_HZ",
    8: "REFRESH_8_HZ",
    16: "REFRESH_16_HZ",
    32: "REFRESH_32_HZ",
    64: "REFRESH_64_HZ",
}

OPTIONS = (
    Option(
        "rate", "float", 4.0, "refresh rate in Hz (above 4 Hz needs a fast, clean bus)", choices=tuple(_RATES)
    ),
    Option("frequency", "int", 800000, "I2C clock in Hz", minimum=10000),
    Option(
        "chess_threshold_c", "float", 1.0, "residual chessboard amplitude flagged as artifact", minimum=0.0
    ),
    Option(
        "max_errors", "int", 5, "getFrame failures in a row before the sensor is re-initialised", minimum=1
    ),
    *THERMAL_OPTIONS,
)

_CHESS = ((np.add.outer(np.arange(ROWS), np.arange(COLS)) % 2) * 2 - 1).astype(np.float32)  # +1/-1 cells


def chess_residual(image: np.ndarray) -> float:
    """Amplitude (°C) of a chessboard pattern in a 24×32 frame: ~0 for a natural scene."""
    inner = image[1:-1, 1:-1]
    neighbours = 0.25 * (image[:-2, 1:-1] + image[2:, 1:-1] + image[1:-1, :-2] + image[1:-1, 2:])
    return float(abs(np.mean((inner - neighbours) * _CHESS[1:-1, 1:-1])) / 2.0)


def bus_number(location: str, name: str) -> int:
    """``i2c-1`` or ``1`` → 1; ConfigError naming the URI otherwise."""
    m = re.fullmatch(r"(?:/dev/)?(?:i2c-)?(\d+)", location.strip("/"))
    if not m:
        raise ConfigError(f"source {name!r}: expected an I2C bus like mlx90640://i2c-1 (grammar: {GRAMMAR})")
    return int(m.group(1))


class Mlx90640Source(Source):
    """An MLX90640 on an I2C bus, with stale/chess detection and re-init after bus errors."""

    LIVE = True
    RECONNECT_DEFAULT = True

    def __init__(self, uri: SourceURI, options: dict[str, Any]) -> None:
        super().__init__(uri, options)
        self.bus = bus_number(uri.location, uri.raw)
        self._sensor: Any = None
        self._i2c: Any = None
        self._buf = np.zeros(ROWS * COLS, dtype=np.float32)
        self._prev: np.ndarray | None = None
        self._proc = ThermalProcessor(options, self.name, self._count)
        self.serial_number: str | None = None
        self._inits = 0

    def _make_bus(self) -> Any:
        freq = int(self.options["frequency"])
        try:
            extended = lazy_import("adafruit_extended_bus", "mlx90640")
            return extended.ExtendedI2C(self.bus, frequency=freq)
        except ImportError:
            board = lazy_import("board", "mlx90640")
            busio = lazy_import("busio", "mlx90640")
            return busio.I2C(board.SCL, board.SDA, frequency=freq)

    def _open(self) -> None:
        module = lazy_import("adafruit_mlx90640", "mlx90640")
        try:
            self._i2c = self._make_bus()
            sensor = module.MLX90640(self._i2c)
            sensor.refresh_rate = getattr(module.RefreshRate, _RATES[self.options["rate"]])
        except (OSError, ValueError, RuntimeError) as exc:
            self._close()
            if self._inits:  # during a reconnect the base class retries with back-off
                raise SourceDisconnected(f"{self.name}: re-initialisation failed: {exc}") from exc
            raise SourceError(f"{self.name}: no MLX90640 on I2C bus {self.bus}: {exc}") from exc
        self.serial_number = "-".join(f"{int(v):04x}" for v in getattr(sensor, "serial_number", []) or [])
        self._sensor = sensor
        self._inits += 1
        if self._inits > 1:
            self._count("reinits")
        self._prev = None

    def _grab(self) -> Frame | None:
        errors = 0
        while not self.stopping:
            try:
                self._sensor.getFrame(self._buf)
            except (ValueError, RuntimeError) as exc:
                errors += 1
                self._count("frame_errors")
                if errors >= int(self.options["max_errors"]):
                    raise SourceDisconnected(
                        f"{self.name}: {errors} getFrame failures in a row ({exc})"
                    ) from exc
                continue
            t_capture = now_ns()
            values = self._buf
            if not np.all(np.isfinite(values)) or values.min() < -40.0 or values.max() > 300.0:
                self._count("invalid_frames")
                continue
            image = values.reshape(ROWS, COLS)
            prev = self._prev
            if prev is not None and np.array_equal(image, prev):
                self._count("stale_frames")
                continue
            # Two 3 KB copies: getFrame reuses its buffer, and the processor corrects in place.
            self._prev = image.copy()
            return self._frame(image.copy(), prev, t_capture)
        return None

    def _frame(self, image: np.ndarray, prev: np.ndarray | None, t_capture: int) -> Frame:
        meta: dict[str, Any] = {"sensor": "MLX90640", "serial": self.serial_number, "bus": self.bus}
        stale_subpage = False
        if prev is not None:
            even = _CHESS > 0
            same_even = np.array_equal(image[even], prev[even])
            same_odd = np.array_equal(image[~even], prev[~even])
            stale_subpage = same_even != same_odd
        chess = chess_residual(image)
        artifact = chess > float(self.options["chess_threshold_c"])
        if stale_subpage:
            self._count("stale_subpages")
        if artifact:
            self._count("chess_artifacts")
        celsius, thermal_meta = self._proc.process(image, t_capture)
        meta.update(thermal_meta)
        meta["stale_subpage"] = stale_subpage
        meta["chess_residual_c"] = chess
        meta["chess_artifact"] = artifact
        if stale_subpage or artifact:
            meta["measurable"] = False
        return Frame(celsius, "celsius32", t_capture, meta=meta)

    def _close(self) -> None:
        self._sensor = None
        i2c, self._i2c = self._i2c, None
        deinit = getattr(i2c, "deinit", None)
        if callable(deinit):
            with contextlib.suppress(Exception):  # the bus may already be gone
                deinit()


def create(uri: SourceURI, options: dict[str, Any]) -> Mlx90640Source:
    """Build (not start) an MLX90640 source (the Adafruit library is imported when it opens)."""
    return Mlx90640Source(uri, options)
