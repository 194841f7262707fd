"""``kiosk.toml``: the one file that configures a kiosk (``biogate run --config kiosk.toml``).

Every table is a dataclass with a closed set of fields: an unknown or misspelt key is an error
naming it and listing the valid ones (a typo must never silently fall back to a default at a
door).  Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..sharpness import METRICS
from .policy import PolicyConfig
from .schema import Table, build_table, checked

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on JetPack's Python 3.8/3.10
    import tomli as tomllib


@dataclass(frozen=True)
class SourceConfig(Table):
    uri: str = "synthetic://face"
    options: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        _check_source(self.uri, self.options)


def _check_source(uri: str, options: dict[str, Any]) -> None:
    """The URI's scheme and options are checked at load (the device is opened at start)."""
    from ..capture.registry import check_uri

    check_uri(uri, **options)  # its messages name the URI and the option


@dataclass(frozen=True)
class SelectionConfig(Table):
    every: int = checked(1, ge=1)  # score every n-th frame
    metric: str = checked("laplacian", choices=METRICS)
    window_s: float = checked(1.0, gt=0.0)  # sharpness of the recent frames the gate compares with
    keep_ratio: float = checked(0.5, ge=0.0, le=1.0)  # pass a frame if sharpness >= ratio x best
    min_score: float = checked(20.0, ge=0.0)  # never pass a frame blurrier than this


@dataclass(frozen=True)
class ModelsConfig(Table):
    # folder of the detector bundles (face_detect_any, face_orient + mtcnn_rnet/onet, or mtcnn_*)
    detector: str = ""
    face_detector: str = checked("auto", choices=("auto", "any", "mtcnn"))  # auto: any when present
    rotate: str = checked("any", choices=("any", "upright"))  # upright: level cameras only
    liveness: str = ""  # bundle folder of the silent-liveness model ("" = no liveness check)
    embedder: str = ""  # bundle folder of the face embedder
    super_resolution: str = ""  # optional SR bundle (off when empty)
    refine: str = ""  # optional refinement bundle (off when empty)
    thermal: str = ""  # optional thermal model bundle
    threads: int = checked(1, ge=1, le=256)  # ONNX Runtime intra-op threads per model
    min_face_px: int = checked(80, ge=12)  # smallest face to detect: a kiosk user fills the frame
    # Models (by [models] key or bundle name) allowed to decide although their own evaluation
    # misses its budget: the banner and every audit record say so (docs/security.md).
    allow_unfit: list[str] = field(default_factory=list)
    # Public keys bundle signatures are accepted from; empty = the device's defaults
    # ($BIOGATE_TRUSTED_KEYS, /etc/biogate/trusted_keys/, this user's own signing key).
    trusted_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GalleryConfig(Table):
    path: str = "gallery.db"
    key_file: str = ""  # "" = read the key from BIOGATE_GALLERY_KEY
    threshold: float | None = checked(None, gt=0.0, le=1.0)  # None = the embedder bundle's
    allow_weak_threshold: bool = False  # accept a threshold below the bundle's calibrated one

    def match_threshold(self, calibrated: Any, bundle: str, where: str = "[gallery]") -> tuple[float, str]:
        """The cosine threshold the kiosk matches with and a banner line saying where it comes from.

        ``calibrated`` is the embedder bundle's ``thresholds["cosine"]``. See
        :func:`check_match_threshold`.
        """
        return check_match_threshold(self.threshold, calibrated, self.allow_weak_threshold, bundle, where)


def check_match_threshold(
    threshold: float | None,
    calibrated: Any,
    allow_weak: bool,
    bundle: str,
    where: str = "[gallery]",
    override: str = "allow_weak_threshold = true",
) -> tuple[float, str]:
    """Resolve a configured cosine match threshold against the embedder bundle's calibrated one.

    Returns ``(threshold, banner line)``. Fail closed: a threshold below the calibrated one lets
    unknown people in as their nearest enrolled identity, so it is refused unless ``allow_weak``
    (``override`` names how the user says so), and then the banner line says ``WEAK``. With no
    configured threshold the bundle's is used; it must exist and lie in (0, 1].

    Raises:
        ConfigError: no usable threshold, or a weak one without the override.
    """
    valid = _is_cosine(calibrated)
    if threshold is None:
        if not valid:
            raise ConfigError(
                f"{where}: no threshold set and the embedder bundle {bundle!r} has no usable calibrated "
                f"cosine threshold (thresholds.cosine = {calibrated!r}); give a threshold in (0, 1]"
            )
        return float(calibrated), f"match threshold {float(calibrated):g} (the embedder bundle's)"
    if not _is_cosine(threshold):
        raise ConfigError(f"{where}: threshold must be in (0, 1], got {threshold!r}")
    if valid and threshold < float(calibrated):
        if not allow_weak:
            raise ConfigError(
                f"{where}: threshold {threshold:g} is below the embedder bundle's calibrated cosine "
                f"threshold {float(calibrated):g} ({bundle}); it would let unknown people in as their "
                f"nearest enrolled identity. Raise it, remove it to use the bundle's, or accept the "
                f"risk with {override}"
            )
        return threshold, (
            f"WEAK match threshold {threshold:g} < the embedder bundle's calibrated {float(calibrated):g} "
            f"({override}): unknown people are more likely to be let in"
        )
    source = "configured" if valid else "configured; the bundle has no calibrated threshold"
    return threshold, f"match threshold {threshold:g} ({source})"


def _is_cosine(value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and 0 < value <= 1


@dataclass(frozen=True)
class ThermalConfig(Table):
    enabled: bool = False
    uri: str = "synthetic://thermal"
    options: dict[str, Any] = field(default_factory=dict)
    homography: list[list[float]] | None = None  # RGB pixel -> thermal pixel, 3x3
    blackbody_roi: list[int] | None = None  # x, y, w, h of an in-scene reference (when the
    blackbody_c: float | None = checked(None, ge=20.0, le=50.0)  # source does not correct itself), set point
    max_age_ms: float = checked(300.0, gt=0.0)  # a thermal frame older than this is not used

    def validate(self) -> None:
        if self.enabled:
            _check_source(self.uri, self.options)
        h = self.homography
        if h is not None and (len(h) != 3 or any(len(row) != 3 for row in h)):
            raise ConfigError(f"homography must be a 3x3 list of lists, got {h!r}")
        roi = self.blackbody_roi
        if roi is not None and (len(roi) != 4 or min(roi[:2]) < 0 or min(roi[2:]) < 1):
            raise ConfigError(f"blackbody_roi must be [x, y, w, h] with x, y >= 0 and w, h >= 1, got {roi!r}")
        if (roi is None) != (self.blackbody_c is None):
            raise ConfigError("blackbody_roi and blackbody_c go together")


@dataclass(frozen=True)
class GateConfig(Table):
    port: str = "sim"  # serial device, pyserial URL, or "sim" to start the gate simulator
    key_file: str = ""  # "" = read the key from BIOGATE_GATE_KEY
    # Link supervision period; the controller's own heartbeat timeout is 1 s, so at most that.
    heartbeat_s: float = checked(0.25, ge=0.02, le=1.0)
    enabled: bool = True


@dataclass(frozen=True)
class AuditConfig(Table):
    path: str = "audit.jsonl"
    save_faces: bool = False


#: libpq's sslmode values (https://www.postgresql.org/docs/current/libpq-ssl.html).
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class FleetConfig(Table):
    """``[fleet]``: follow a fleet server (docs/fleet.md); ``biogate run`` starts the sync agent."""

    enabled: bool = False
    dsn: str = ""  # libpq DSN / postgresql:// URI of the server, as this kiosk's role, no password
    password_file: str = ""  # "" = PGPASSWORD or ~/.pgpass
    sslmode: str = checked("verify-full", choices=SSL_MODES)
    sslrootcert: str = ""  # CA of the server's certificate
    sslcert: str = ""  # client certificate login (optional)
    sslkey: str = ""
    site_key_file: str = ""  # the site key that unwraps the site's data key (never on the server)
    state: str = "fleet_state.db"  # sync progress and the audit spool
    poll_s: float = checked(5.0, gt=0.0, le=3600.0)  # fallback poll; also how often the server confirms
    max_staleness_s: float = checked(600.0, gt=0.0)  # no confirmation for this long: match nobody
    reconnect_max_s: float = checked(15.0, gt=0.0, le=3600.0)


@dataclass(frozen=True)
class KioskConfig:
    """The whole ``kiosk.toml``: one field per table (a new table is a new field, nothing else)."""

    source: SourceConfig = field(default_factory=SourceConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    gallery: GalleryConfig = field(default_factory=GalleryConfig)
    thermal: ThermalConfig = field(default_factory=ThermalConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    base_dir: str = "."
    name: str = "<config>"  # the file it came from, for errors found later (at build time)

    def resolve(self, path: str) -> str:
        """``path`` relative to the config file's folder ("" stays "")."""
        if not path or "://" in path or path == "sim":
            return path
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else Path(self.base_dir) / p)


def table_classes() -> dict[str, type]:
    """``{table name: Table class}`` of every ``kiosk.toml`` table, from :class:`KioskConfig`'s fields."""
    return {
        f.name: f.default_factory  # type: ignore[misc]
        for f in dataclasses.fields(KioskConfig)
        if isinstance(f.default_factory, type) and issubclass(f.default_factory, Table)
    }


def parse_config(data: dict[str, Any], base_dir: str | Path = ".", name: str = "<config>") -> KioskConfig:
    """A :class:`KioskConfig` from a parsed TOML document; every problem is one ConfigError naming
    the file, the table and the key."""
    classes = table_classes()
    unknown = sorted(set(data) - set(classes))
    if unknown:
        raise ConfigError(f"{name}: unknown table(s) {', '.join(unknown)}; valid: {', '.join(classes)}")
    tables = {key: build_table(cls, data.get(key, {}), f"{name} [{key}]") for key, cls in classes.items()}
    return KioskConfig(base_dir=str(base_dir), name=name, **tables)


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
