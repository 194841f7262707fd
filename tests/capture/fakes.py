"""Faithful fakes of the hardware libraries biogate drives (no hardware exists in CI).

Each fake implements the public API surface the driver uses, with the same call signatures,
return types and failure modes as the real library:

* ``FakeVideoCapture``: ``cv2.VideoCapture`` (``isOpened/read/set/get/release``), fed with frames;
* ``make_picamera2_module``: ``picamera2.Picamera2`` (``create_video_configuration``, ``configure``,
  ``start``, ``capture_request`` → request with ``get_metadata``/``make_array``/``release``);
* ``make_mlx_modules``: ``adafruit_mlx90640`` (``MLX90640(i2c)``, ``RefreshRate``, ``getFrame``,
  ``serial_number``) and ``adafruit_extended_bus.ExtendedI2C``.
"""

from __future__ import annotations

import threading
import types
from typing import Any, Callable, ClassVar

import cv2
import numpy as np


class FakeVideoCapture:
    """cv2.VideoCapture over a frame generator; ``read`` returns (False, None) after the end."""

    def __init__(self, frames: Callable[[int], np.ndarray | None], opened: bool = True):
        self._frames = frames
        self._opened = opened
        self._index = 0
        self.props: dict[int, float] = {}
        self.set_calls: list[tuple] = []
        self.released = False
        self.unplugged = threading.Event()

    def isOpened(self) -> bool:  # noqa: N802 - cv2's name
        return self._opened and not self.released

    def set(self, prop: int, value: float) -> bool:
        self.set_calls.append((prop, value))
        self.props[prop] = float(value)
        return True

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_POS_MSEC:
            return 0.0  # no driver timestamp: biogate falls back to the host clock
        return self.props.get(prop, 0.0)

    def read(self):
        if self.released or self.unplugged.is_set():
            return False, None
        image = self._frames(self._index)
        if image is None:
            return False, None
        self._index += 1
        return True, image

    def release(self) -> None:
        self.released = True


# ----------------------------------------------------------------------------- picamera2
class FakeRequest:
    def __init__(self, camera: FakePicamera2, array: np.ndarray, metadata: dict[str, Any]):
        self._camera = camera
        self._array = array
        self._metadata = metadata
        self.released = False

    def get_metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    def make_array(self, name: str) -> np.ndarray:
        assert name == "main", "biogate reads the main stream"
        if self.released:
            raise RuntimeError("request already released")
        return self._array.copy()  # picamera2 copies out of the DMA buffer

    def release(self) -> None:
        self.released = True
        self._camera.released += 1


class FakePicamera2:
    """Picamera2 with a queue of completed requests, some exposed before the call (#426)."""

    cameras = 1
    stale_per_call = 0  # how many queued, too-old requests each capture_request returns first
    instances: ClassVar[list[FakePicamera2]] = []

    def __init__(self, camera_num: int = 0):
        if camera_num >= self.cameras:
            raise IndexError("list index out of range")
        self.camera_num = camera_num
        self.config: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        self.released = 0
        self.calls = 0
        self._stale_left = 0
        self._fresh_since_refill = 0
        self._frame = 0
        type(self).instances.append(self)

    def create_video_configuration(
        self,
        main=None,
        lores=None,
        raw=None,
        transform=None,
        colour_space=None,
        buffer_count=6,
        controls=None,
        display="main",
        encode="main",
        queue=True,
        sensor=None,
        use_case="video",
    ):
        return {
            "main": dict(main or {}),
            "buffer_count": buffer_count,
            "controls": dict(controls or {}),
            "queue": queue,
            "use_case": use_case,
        }

    def configure(self, config: dict[str, Any]) -> None:
        self.config = config

    def start(self) -> None:
        if self.config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def capture_request(self) -> FakeRequest:
        import time

        if not self.started:
            raise RuntimeError("Camera not started")
        self.calls += 1
        if self._fresh_since_refill >= 4 or self.calls == 1:
            # while the application was busy, completed requests piled up in picamera2's queue
            self._stale_left = self.stale_per_call
            self._fresh_since_refill = 0
        w, h = self.config["main"]["size"]
        self._frame += 1
        if self._stale_left:
            self._stale_left -= 1
            stamp = time.monotonic_ns() - 50_000_000  # exposed 50 ms before the call
        else:
            self._fresh_since_refill += 1
            stamp = time.monotonic_ns() + 1
        fmt = self.config["main"]["format"]
        shape = (h, w, 3) if fmt == "RGB888" else (h * 3 // 2, w)
        array = np.full(shape, self._frame % 256, np.uint8)
        meta = {"SensorTimestamp": stamp, "ExposureTime": 10000, "AnalogueGain": 2.0, "FrameDuration": 33333}
        return FakeRequest(self, array, meta)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


def make_picamera2_module(stale_per_call: int = 0) -> types.ModuleType:
    module = types.ModuleType("picamera2")
    cls = type("Picamera2", (FakePicamera2,), {"stale_per_call": stale_per_call, "instances": []})
    module.Picamera2 = cls
    return module


# ----------------------------------------------------------------------------- MLX90640
class FakeMLX90640:
    """adafruit_mlx90640.MLX90640: getFrame(buf) fills 768 °C values, row-major 24×32.

    ``script`` is a list consumed one entry per getFrame call: "ok", "oserror", "valueerror",
    "stale" (identical to the last frame), "subpage" (only one chess subpage updated), "nan",
    "chess" (checkerboard artifact). When it runs out, calls are "ok".
    """

    def __init__(self, i2c: Any, address: int = 0x33):
        if getattr(i2c, "broken", False):
            raise OSError(121, "Remote I/O error")
        self.i2c = i2c
        self.refresh_rate = None
        self.serial_number = [0x1234, 0x5678, 0x9ABC]
        self._last: np.ndarray | None = None
        self._n = 0
        self.state = i2c.state

    def _scene(self) -> np.ndarray:
        self._n += 1
        yy, xx = np.mgrid[0:24, 0:32].astype(np.float32)
        base = 22.0 + 0.02 * xx + 0.01 * self._n
        face = ((yy - 12) ** 2 / 36 + (xx - 12 - (self._n % 3)) ** 2 / 25) < 1
        base[face] = 33.5 + 0.01 * self._n
        base[-4:, -4:] = 35.0  # blackbody patch
        return base

    def getFrame(self, framebuf) -> None:  # noqa: N802 - the Adafruit library's name
        script = self.state["script"]
        step = script.pop(0) if script else "ok"
        self.state["calls"] += 1
        if step == "oserror":
            # The bus may go down with the error: set in the state before any read, so no race
            # with the source's reader thread.
            self.state["stay_broken"] += self.state.pop("down_after_oserror", 0)
            self.i2c.broken = self.state.get("stay_broken", 0) > 0
            raise OSError(121, "Remote I/O error")
        if step == "valueerror":
            raise ValueError("Too many retries")
        if step == "stale" and self._last is not None:
            frame = self._last.copy()
        else:
            frame = self._scene()
            if step == "subpage" and self._last is not None:
                even = (np.add.outer(np.arange(24), np.arange(32)) % 2) == 0
                frame[even] = self._last[even]
            elif step == "chess":
                frame += ((np.add.outer(np.arange(24), np.arange(32)) % 2) * 2 - 1) * 1.5
            elif step == "nan":
                frame[3, 3] = np.nan  # a corrupted read: the sensor's own RAM still holds good data
        if step != "nan":
            self._last = frame.copy()
        flat = frame.reshape(-1)
        for i in range(768):
            framebuf[i] = flat[i]


class FakeExtendedI2C:
    def __init__(self, bus: int, frequency: int = 100000):
        self.bus = bus
        self.frequency = frequency
        self.state = type(self).state
        self.broken = self.state.get("stay_broken", 0) > 0
        if self.broken:
            self.state["stay_broken"] -= 1
        self.deinited = False
        self.state["buses"] += 1

    def deinit(self) -> None:
        self.deinited = True


def make_mlx_modules(
    script: list[str], stay_broken: int = 0, down_after_oserror: int = 0
) -> dict[str, types.ModuleType]:
    """sys.modules entries for adafruit_mlx90640 and adafruit_extended_bus sharing one state.

    ``stay_broken``: bus openings that fail from the start; ``down_after_oserror``: bus openings
    that fail after the first scripted "oserror".
    """
    state = {
        "script": list(script),
        "calls": 0,
        "buses": 0,
        "stay_broken": stay_broken,
        "down_after_oserror": down_after_oserror,
    }
    mlx = types.ModuleType("adafruit_mlx90640")
    mlx.MLX90640 = FakeMLX90640
    mlx.RefreshRate = types.SimpleNamespace(
        REFRESH_0_5_HZ=0,
        REFRESH_1_HZ=1,
        REFRESH_2_HZ=2,
        REFRESH_4_HZ=3,
        REFRESH_8_HZ=4,
        REFRESH_16_HZ=5,
        REFRESH_32_HZ=6,
        REFRESH_64_HZ=7,
    )
    bus = types.ModuleType("adafruit_extended_bus")
    bus.ExtendedI2C = type("ExtendedI2C", (FakeExtendedI2C,), {"state": state})
    return {"adafruit_mlx90640": mlx, "adafruit_extended_bus": bus, "_state": state}  # type: ignore[dict-item]
