"""Checks of command-line values that argparse's ``type=`` cannot express, as one ConfigError each.

Every message names the flag and the value, so ``biogate`` prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

from ..errors import ConfigError


def positive(flag: str, value: float | None, maximum: float | None = None) -> None:
    """``value`` is a finite number > 0 (and <= ``maximum``); ``None`` (not given) passes."""
    if value is None:
        return
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{flag} must be a number > 0, got {value:g}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{flag} must be <= {maximum:g}, got {value:g}")


def non_negative(flag: str, value: float) -> None:
    """``value`` is a finite number >= 0."""
    if not (math.isfinite(value) and value >= 0):
        raise ConfigError(f"{flag} must be a number >= 0, got {value:g}")


def at_least(flag: str, value: int, minimum: int = 1) -> None:
    """An integer flag is >= ``minimum``."""
    if value < minimum:
        raise ConfigError(f"{flag} must be >= {minimum}, got {value}")


def folder(flag: str, path: str | None, create: bool = True) -> None:
    """``path`` is (or, with ``create``, becomes) a writable folder; ``None`` passes.

    Refused with one line: a file, a path under a file, and a place that cannot be written.
    """
    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"{flag} {path!r} is a file, not a folder")
    if not os.path.isdir(path):
        if not create:
            raise ConfigError(f"{flag} {path!r} does not exist")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{flag} {path!r} cannot be created: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path!r} is not writable")


def face_bundle_arguments(parser: argparse.ArgumentParser) -> None:
    """``--bundles DIR`` and ``--embedder BUNDLE``: where a command finds its face chain's bundles."""
    parser.add_argument(
        "--bundles", default="bundles", metavar="DIR", help="folder with the detector bundles"
    )
    parser.add_argument(
        "--embedder", metavar="BUNDLE", help="embedder bundle (default: BUNDLES/face_embed_dlib)"
    )


def load_array(what: str, path: str) -> np.ndarray:
    """A ``.npy`` array a flag names (no pickles); ConfigError naming ``what`` and the path otherwise."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {what} {path!r}: {exc}") from exc
