"""Find the capture devices this machine has (for ``biogate doctor``).

Lists ``/dev/video*`` with their V4L2 capabilities and pixel formats where the device answers
``VIDIOC_QUERYCAP``/``VIDIOC_ENUM_FMT``, recognises thermal cameras (PureThermal/Lepton,
Boson, Seek, or a Y16 format) and CSI/Raspberry Pi camera pipelines by driver name, and lists
I2C buses where an MLX90640 could sit. Every entry suggests the URI that would open it.
Nothing here opens a stream or needs privileges beyond reading the device nodes.
"""

from __future__ import annotations

import glob
import os
import re
import struct
from typing import Any

# struct v4l2_capability: driver[16] card[32] bus_info[32] version capabilities device_caps reserved[3]
_CAP_FMT = "16s32s32sIII3I"
_CAP_SIZE = struct.calcsize(_CAP_FMT)  # 104
# struct v4l2_fmtdesc: index type flags description[32] pixelformat mbus_code reserved[3]
_FMT_FMT = "III32sII3I"
_FMT_SIZE = struct.calcsize(_FMT_FMT)  # 64


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("V") << 8) | nr


VIDIOC_QUERYCAP = _ioc(2, 0, _CAP_SIZE)  # _IOR('V', 0, struct v4l2_capability)
VIDIOC_ENUM_FMT = _ioc(3, 2, _FMT_SIZE)  # _IOWR('V', 2, struct v4l2_fmtdesc)
V4L2_CAP_VIDEO_CAPTURE = 0x00000001
V4L2_CAP_STREAMING = 0x04000000
V4L2_CAP_DEVICE_CAPS = 0x80000000
V4L2_BUF_TYPE_VIDEO_CAPTURE = 1

_THERMAL_NAMES = re.compile(r"purethermal|lepton|flir|boson|seek|thermal|tau2|uti260", re.I)
_CSI_DRIVERS = re.compile(r"tegra|vi-output|nvargus", re.I)
_RPI_DRIVERS = re.compile(r"unicam|rp1-cfe|bcm2835-isp|pispbe", re.I)


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _fourcc(code: int) -> str:
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))


def query_v4l2(path: str) -> dict[str, Any] | None:
    """V4L2 capabilities and capture formats of ``path``, or None when it does not answer."""
    try:
        import fcntl
    except ImportError:  # not Linux
        return None
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buf = bytearray(_CAP_SIZE)
        fcntl.ioctl(fd, VIDIOC_QUERYCAP, buf)
        driver, card, bus, version, caps, device_caps = struct.unpack(_CAP_FMT, bytes(buf))[:6]
        effective = device_caps if caps & V4L2_CAP_DEVICE_CAPS else caps
        formats = []
        for index in range(64):
            desc = bytearray(struct.pack(_FMT_FMT, index, V4L2_BUF_TYPE_VIDEO_CAPTURE, 0, b"", 0, 0, 0, 0, 0))
            try:
                fcntl.ioctl(fd, VIDIOC_ENUM_FMT, desc)
            except OSError:
                break
            fields = struct.unpack(_FMT_FMT, bytes(desc))
            formats.append({"fourcc": _fourcc(fields[4]), "description": _cstr(fields[3])})
        return {
            "driver": _cstr(driver),
            "card": _cstr(card),
            "bus_info": _cstr(bus),
            "version": f"{version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}",
            "capture": bool(effective & V4L2_CAP_VIDEO_CAPTURE),
            "streaming": bool(effective & V4L2_CAP_STREAMING),
            "formats": formats,
        }
    except OSError:
        return None
    finally:
        os.close(fd)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _video_entry(dev: str, root: str) -> dict[str, Any]:
    node = os.path.basename(dev)
    name = _read(os.path.join(root, "sys/class/video4linux", node, "name"))
    caps = query_v4l2(dev)
    fourccs = {f["fourcc"].strip() for f in (caps or {}).get("formats", [])}
    label = " ".join(filter(None, [name, (caps or {}).get("card", ""), (caps or {}).get("driver", "")]))
    kind, uri = "camera", f"v4l2://{dev}"
    if _THERMAL_NAMES.search(label) or "Y16" in fourccs:
        kind, uri = "thermal", f"uvc-thermal://{dev}"
    elif _CSI_DRIVERS.search(label):
        index = re.sub(r"\D", "", node) or "0"
        kind, uri = "csi", f"csi://{index}"
    elif _RPI_DRIVERS.search(label):
        kind, uri = "rpicam", "rpicam://0"
    entry: dict[str, Any] = {"type": "video", "kind": kind, "path": dev, "name": name or None, "uri": uri}
    if caps is not None:
        entry["v4l2"] = caps
        if not caps["capture"]:
            entry["kind"] = "metadata"  # UVC cameras expose a second, metadata-only node
            entry["uri"] = None
    else:
        entry["v4l2"] = None
        entry["note"] = "V4L2 capabilities not readable (permissions, or not a V4L2 node)"
    return entry


def discover(root: str = "/") -> list[dict[str, Any]]:
    """Video devices, thermal cameras and I2C buses under ``root`` (``/`` on a real system).

    Returns:
        One dict per device: ``type`` (video|i2c), ``kind`` (camera|thermal|csi|rpicam|metadata|
        i2c-bus), ``path``, ``name``, ``uri`` (how to open it, or None) and, for video nodes,
        ``v4l2`` (driver, card, bus_info, capture, streaming, formats) when readable.
    """
    found: list[dict[str, Any]] = []

    def natural(path: str) -> tuple:
        digits = re.sub(r"\D", "", path)
        return (int(digits) if digits else -1, path)

    for dev in sorted(glob.glob(os.path.join(root, "dev", "video*")), key=natural):
        found.append(_video_entry(dev, root))
    for dev in sorted(glob.glob(os.path.join(root, "dev", "i2c-*")), key=natural):
        node = os.path.basename(dev)
        name = _read(os.path.join(root, "sys/class/i2c-dev", node, "name"))
        found.append(
            {
                "type": "i2c",
                "kind": "i2c-bus",
                "path": dev,
                "name": name or None,
                "uri": f"mlx90640://{node}",
                "note": "an MLX90640 answers at address 0x33 if present (not probed)",
            }
        )
    return found
