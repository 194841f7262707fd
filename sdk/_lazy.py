"""Lazy, explicit imports of optional heavy dependencies.

tensorrt, pycuda, picamera2 and torch are imported only when a feature that needs them
is used; a missing one raises :class:`~biogate.errors.BackendUnavailable` naming the
package and the pip extra.  Nothing is ever installed at run time.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import BackendUnavailable


def lazy_import(name: str, extra: str | None = None) -> ModuleType:
    """Import ``name`` now, or raise :class:`BackendUnavailable` naming ``extra``."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # includes a broken install of the library itself
        raise BackendUnavailable(name, extra, why=str(exc)) from exc


def is_available(name: str) -> bool:
    """True when ``name`` can be imported (the import is attempted, then kept)."""
    try:
        importlib.import_module(name)
    except Exception:
        return False
    return True
