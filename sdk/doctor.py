"""What this machine offers biogate: Python, native kernels, inference backends, devices.

Used by ``biogate doctor``; every probe is cheap, offline, and reports rather than raises.
"""

from __future__ import annotations

import glob
import importlib
import os
import platform
import sys
from pathlib import Path
from typing import Any

PROBE_MODEL = Path(__file__).parent / "data" / "probe_identity.onnx"


def _module_version(name: str) -> dict[str, Any]:
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # a broken install reports its reason
        return {"available": False, "why": f"{type(exc).__name__}: {exc}".splitlines()[0][:200]}
    return {"available": True, "version": getattr(module, "__version__", "?")}


def native_info() -> dict[str, Any]:
    """Whether ``biogate._native`` loads, from where, and which vector path it runs."""
    try:
        from . import _native
    except ImportError as exc:
        return {"available": False, "why": str(exc)}
    return {"available": True, "path": _native.__file__, "simd": _native.simd_path()}


def onnxruntime_info() -> dict[str, Any]:
    """ONNX Runtime version, providers it lists, and the ones that really load a session."""
    info = _module_version("onnxruntime")
    if not info["available"]:
        return info
    import onnxruntime as ort

    listed = ort.get_available_providers()
    working: list[str] = []
    failures: dict[str, str] = {}
    model = PROBE_MODEL.read_bytes()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    for provider in listed:
        try:
            session = ort.InferenceSession(model, options, providers=[provider])
        except Exception as exc:
            failures[provider] = str(exc).splitlines()[0][:200]
            continue
        # A session silently falls back to CPU when a provider cannot start: check what it uses.
        if provider in session.get_providers():
            working.append(provider)
        else:
            failures[provider] = "listed but the session fell back to " + ",".join(session.get_providers())
    info.update(listed=listed, working=working, failures=failures)
    return info


def accelerator_info() -> dict[str, Any]:
    """TensorRT, pycuda, picamera2 availability and the Jetson release, if any."""
    info: dict[str, Any] = {name: _module_version(name) for name in ("tensorrt", "pycuda", "picamera2")}
    release = Path("/etc/nv_tegra_release")
    info["jetson"] = release.read_text().split(",")[0].strip() if release.exists() else None
    return info


def serial_ports() -> list[dict[str, Any]]:
    """Serial ports pyserial can enumerate, plus Jetson UARTs it may miss."""
    ports: list[dict[str, Any]] = []
    try:
        from serial.tools import list_ports

        ports = [
            {"device": p.device, "description": p.description, "hwid": p.hwid} for p in list_ports.comports()
        ]
    except ImportError:
        pass
    seen = {p["device"] for p in ports}
    for device in sorted(glob.glob("/dev/ttyTHS*")):
        if device not in seen:
            ports.append({"device": device, "description": "Jetson UART", "hwid": ""})
    return ports


def capture_devices() -> dict[str, Any]:
    """Cameras and sensors the capture drivers can find."""
    try:
        from .capture import discover
    except ImportError as exc:
        return {"available": False, "why": str(exc), "devices": sorted(glob.glob("/dev/video*"))}
    return {"available": True, "devices": discover()}


def collect() -> dict[str, Any]:
    """Everything ``biogate doctor`` reports, as a JSON-able dict."""
    from . import __version__

    return {
        "biogate": __version__,
        "python": {"version": sys.version.split()[0], "executable": sys.executable},
        "platform": {"system": platform.platform(), "machine": platform.machine(), "cores": os.cpu_count()},
        "native": native_info(),
        "numpy": _module_version("numpy"),
        "opencv": _module_version("cv2"),
        "onnxruntime": onnxruntime_info(),
        "accelerators": accelerator_info(),
        "torch_loaded_by_sdk": "torch" in sys.modules,
        "capture": capture_devices(),
        "serial_ports": serial_ports(),
    }
