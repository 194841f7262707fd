"""The demo's prepared folder (kiosk bundles + walk-up visitors), built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    """``biogate demo --prepare``'s folder; ``$BIOGATE_DEMO_FOLDER`` reuses one (CI prepares it once)."""
    pytest.importorskip("torch")
    from biogate.exporters.convert.demo_bundles import prepare

    given = os.environ.get("BIOGATE_DEMO_FOLDER")
    folder = Path(given) if given else tmp_path_factory.mktemp("demo-folder")
    return prepare(folder, log=lambda *_: None)
