"""The one exception tree of biogate.

Every error a user can cause derives from :class:`BiogateError`; its message names the
URI, file, key or option at fault and, where there is a closed set, the valid choices.
:class:`BiogateInternalError` marks biogate's own bugs and is kept apart on purpose.
"""

from __future__ import annotations


class BiogateError(Exception):
    """Root of every error biogate raises for a user-visible problem."""


class ConfigError(BiogateError, ValueError):
    """A bad option, URI, configuration key or argument value."""


class BackendUnavailable(BiogateError, ImportError):
    """An optional dependency (tensorrt, pycuda, picamera2, torch, ...) is missing."""

    def __init__(self, module: str, extra: str | None = None, why: str = "") -> None:
        hint = f"pip install 'biogate[{extra}]'" if extra else f"pip install {module}"
        text = f"optional dependency '{module}' is not available ({hint})"
        if why:
            text += f": {why}"
        super().__init__(text)
        self.module = module
        self.extra = extra


class SourceError(BiogateError):
    """A capture source failed: bad URI, missing device, unreadable or corrupt input."""


class SourceDisconnected(SourceError):
    """A device that was open went away (unplugged, deleted file, I2C error)."""


class BundleError(BiogateError):
    """A model bundle is missing a file, has a bad manifest, or fails its hash check."""


class UnfitModelError(BundleError):
    """A deciding model's own held-out evaluation misses its budget, and no override names it."""


class EngineError(BiogateError):
    """An inference engine could not be built or run (provider, shape, dtype, version)."""


class GalleryError(BiogateError):
    """The face gallery refused an operation (wrong key, bad template, unknown identity)."""


class FleetError(BiogateError):
    """The fleet server or a kiosk's sync agent refused or failed (database, keys, credentials)."""


class GateProtocolError(BiogateError):
    """The serial link to the gate controller failed or the controller refused a command."""


class BiogateInternalError(RuntimeError):
    """A bug in biogate itself, never a user mistake: please report it."""


__all__ = [
    "BackendUnavailable",
    "BiogateError",
    "BiogateInternalError",
    "BundleError",
    "ConfigError",
    "EngineError",
    "FleetError",
    "GalleryError",
    "GateProtocolError",
    "SourceDisconnected",
    "SourceError",
    "UnfitModelError",
]
