"""The kiosk: a walk-up access terminal assembled from a ``kiosk.toml`` (stages, policy, audit, gate)."""

from __future__ import annotations

from .app import Kiosk, build_kiosk
from .config import KioskConfig, load_config, parse_config

__all__ = ["Kiosk", "KioskConfig", "build_kiosk", "load_config", "parse_config"]
