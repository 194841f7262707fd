"""The device side imports without torch and without the optional hardware libraries."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Every module that must import on a device: modules are discovered, so new ones are covered.
SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class Block:
        # Make the blocked packages unimportable, as on a board without them.
        BLOCKED = ("torch", "tensorrt", "pycuda", "picamera2", "onnx", "onnxscript", "torchvision")
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError(f"{name} is blocked for this test")
            return None

    sys.meta_path.insert(0, Block())
    import biogate
    failed = []
    for prefix, pkg in (("biogate.", biogate),):
        for info in pkgutil.walk_packages(pkg.__path__, prefix):
            if info.name.startswith(("biogate.exporters", "biogate.cli.cmd_export")):
                continue  # the training side may need torch/onnx
            try:
                importlib.import_module(info.name)
            except ImportError as exc:
                failed.append(f"{info.name}: {exc}")
    import biogate.firmware_bridge
    print("\\n".join(failed))
    print("TORCH" if "torch" in sys.modules else "NO-TORCH")
    """
)


def test_device_side_imports_without_optional_dependencies():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "NO-TORCH"
    assert [line for line in lines[:-1] if line] == []


def test_import_biogate_does_not_import_torch():
    code = "import sys, biogate, biogate.select, biogate.sharpness; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
