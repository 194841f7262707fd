"""``kiosk.toml``: the one file that configures a kiosk (``biogate run --config kiosk.toml``).

Every table is a dataclass with a closed set of fields: an unknown or misspelt key is an error
naming it and listing the valid ones (a typo must never silently fall back to a default at a
door).  Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .policy import PolicyConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on JetPack's Python 3.8/3.10
    import tomli as tomllib


@dataclass(frozen=True)
class SourceConfig:
    uri: str = "synthetic://face"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SelectionConfig:
    every: int = 1  # score every n-th frame
    metric: str = "laplacian"
    window_s: float = 1.0  # sharpness of the recent frames the gate compares with
    keep_ratio: float = 0.5  # pass a frame if its sharpness >= ratio x best in window
    min_score: float = 20.0  # never pass a frame blurrier than this


@dataclass(frozen=True)
class ModelsConfig:
    detector: str = ""  # folder holding the MTCNN bundles (mtcnn_pnet, mtcnn_rnet, mtcnn_onet)
    liveness: str = ""  # bundle folder of the silent-liveness model ("" = no liveness check)
    embedder: str = ""  # bundle folder of the face embedder
    super_resolution: str = ""  # optional SR bundle (off when empty)
    refine: str = ""  # optional refinement bundle (off when empty)
    thermal: str = ""  # optional thermal model bundle
    threads: int = 1  # ONNX Runtime intra-op threads per model
    min_face_px: int = 80  # smallest face to detect: a kiosk user fills much of the frame


@dataclass(frozen=True)
class GalleryConfig:
    path: str = "gallery.db"
    key_file: str = ""  # "" = read the key from BIOGATE_GALLERY_KEY
    threshold: float | None = None  # None = the embedder bundle's threshold


@dataclass(frozen=True)
class ThermalConfig:
    enabled: bool = False
    uri: str = "synthetic://thermal"
    options: dict[str, Any] = field(default_factory=dict)
    homography: list[list[float]] | None = None  # RGB pixel -> thermal pixel, 3x3
    blackbody_roi: list[int] | None = None  # x, y, w, h of an in-scene reference (when the
    blackbody_c: float | None = None  # source does not correct itself) and its set point
    max_age_ms: float = 300.0  # a thermal frame older than this is not used


@dataclass(frozen=True)
class GateConfig:
    port: str = "sim"  # serial device, pyserial URL, or "sim" to start the gate simulator
    key_file: str = ""  # "" = read the key from BIOGATE_GATE_KEY
    heartbeat_s: float = 0.25
    enabled: bool = True


@dataclass(frozen=True)
class AuditConfig:
    path: str = "audit.jsonl"
    save_faces: bool = False


@dataclass(frozen=True)
class KioskConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    gallery: GalleryConfig = field(default_factory=GalleryConfig)
    thermal: ThermalConfig = field(default_factory=ThermalConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    base_dir: str = "."

    def resolve(self, path: str) -> str:
        """``path`` relative to the config file's folder ("" stays "")."""
        if not path or "://" in path or path == "sim":
            return path
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else Path(self.base_dir) / p)


_TABLE_CLASSES = {
    "source": SourceConfig,
    "selection": SelectionConfig,
    "models": ModelsConfig,
    "gallery": GalleryConfig,
    "thermal": ThermalConfig,
    "policy": PolicyConfig,
    "gate": GateConfig,
    "audit": AuditConfig,
}


def _build(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{cls.__name__}] must be a table")
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(allowed))}"
        )
    try:
        return cls(**table)
    except (TypeError, ConfigError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_config(data: dict[str, Any], base_dir: str | Path = ".", name: str = "<config>") -> KioskConfig:
    """A :class:`KioskConfig` from a parsed TOML document."""
    unknown = sorted(set(data) - set(_TABLE_CLASSES))
    if unknown:
        raise ConfigError(
            f"{name}: unknown table(s) {', '.join(unknown)}; valid: {', '.join(_TABLE_CLASSES)}"
        )
    tables = {key: _build(cls, data.get(key, {}), f"{name} [{key}]") for key, cls in _TABLE_CLASSES.items()}
    config = KioskConfig(base_dir=str(base_dir), **tables)
    _validate(config, name)
    return config


def _validate(config: KioskConfig, name: str) -> None:
    sel = config.selection
    if sel.every < 1:
        raise ConfigError(f"{name} [selection]: every must be >= 1, got {sel.every}")
    if not 0.0 <= sel.keep_ratio <= 1.0:
        raise ConfigError(f"{name} [selection]: keep_ratio must be in [0, 1], got {sel.keep_ratio}")
    if config.models.threads < 1:
        raise ConfigError(f"{name} [models]: threads must be >= 1")
    h = config.thermal.homography
    if h is not None and (len(h) != 3 or any(len(row) != 3 for row in h)):
        raise ConfigError(f"{name} [thermal]: homography must be a 3x3 list of lists")
    if (config.thermal.blackbody_roi is None) != (config.thermal.blackbody_c is None):
        raise ConfigError(f"{name} [thermal]: blackbody_roi and blackbody_c go together")
    if config.gate.heartbeat_s <= 0:
        raise ConfigError(f"{name} [gate]: heartbeat_s must be > 0")


def load_config(path: str | Path) -> KioskConfig:
    """Read and validate a ``kiosk.toml``; every problem is a :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    return parse_config(data, base_dir=path.resolve().parent, name=str(path))
