"""Every folder that holds Python code is a package that setup.py ships (issue #17).

``find_packages`` skips a folder without ``__init__.py``; an editable install hides that, a wheel
does not (``biogate.kiosk`` was once missing from it). The full install check is
``make wheel-test`` (``.ci/wheel_test``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = {
    "sdk": "biogate",
    "exporters": "biogate/exporters",
    "firmware_bridge": "biogate/firmware_bridge",
}


def _code_folders() -> list[Path]:
    folders = set()
    for top in SOURCE_FOLDERS:
        for path in (ROOT / top).rglob("*.py"):
            if "__pycache__" not in path.parts:
                folders.add(path.parent)
    return sorted(folders)


def test_every_code_folder_is_a_package():
    missing = [str(f.relative_to(ROOT)) for f in _code_folders() if not (f / "__init__.py").is_file()]
    assert missing == [], f"folders with .py files but no __init__.py (not shipped): {missing}"


def test_setup_py_ships_every_module(tmp_path):
    out = subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    shipped = set((tmp_path / "biogate.egg-info" / "SOURCES.txt").read_text().split())
    modules = [
        str(p.relative_to(ROOT))
        for top in SOURCE_FOLDERS
        for p in (ROOT / top).rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    assert [m for m in modules if m not in shipped] == []
