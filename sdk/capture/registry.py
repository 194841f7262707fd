"""Scheme → driver module registry and :func:`open_source`.

Each driver module (``biogate.capture.<scheme>``) defines ``GRAMMAR`` (its URI form, quoted in
errors), ``OPTIONS`` (its closed :class:`~biogate.capture.options.Option` set) and
``create(uri, options, **deps) -> Source``. Modules are imported only when their scheme is
opened, so a missing optional library (picamera2, adafruit_mlx90640) costs nothing elsewhere.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Mapping

from ..errors import ConfigError
from .options import COMMON_OPTIONS, resolve_options
from .source import Source
from .uri import SourceURI, parse_uri

#: URI scheme → module implementing it. Extend with :func:`register_scheme`.
SCHEMES: dict[str, str] = {
    "v4l2": "biogate.capture.v4l2",
    "csi": "biogate.capture.csi",
    "rpicam": "biogate.capture.rpicam",
    "file": "biogate.capture.file",
    "dir": "biogate.capture.dir",
    "uvc-thermal": "biogate.capture.uvc_thermal",
    "mlx90640": "biogate.capture.mlx90640",
    "dicom": "biogate.capture.dicom",
    "xray-raw": "biogate.capture.xray_raw",
    "synthetic": "biogate.capture.synthetic",
}


def register_scheme(scheme: str, module: str) -> None:
    """Make ``scheme://`` open with ``module`` (a dotted path with GRAMMAR, OPTIONS, create)."""
    SCHEMES[scheme.lower()] = module


def driver_module(scheme: str) -> ModuleType:
    """The driver module for ``scheme``; ConfigError listing the known schemes otherwise."""
    try:
        path = SCHEMES[scheme]
    except KeyError:
        raise ConfigError(
            f"unknown source scheme {scheme!r}; valid: {', '.join(s + '://' for s in sorted(SCHEMES))}"
        ) from None
    return importlib.import_module(path)


def check_uri(uri: object, **options: Any) -> tuple[SourceURI, ModuleType, dict[str, Any]]:
    """Parse ``uri`` and type its options without opening anything: (uri, driver, options).

    Configuration loaders call it to refuse a bad URI at load time, naming their key.

    Raises:
        ConfigError: a malformed URI, an unknown scheme, or an unknown or bad option.
    """
    parsed: SourceURI = parse_uri(uri)
    module = driver_module(parsed.scheme)
    specs = tuple(COMMON_OPTIONS) + tuple(module.OPTIONS)
    values = resolve_options(parsed.raw or str(parsed), module.GRAMMAR, specs, parsed.options, options)
    return parsed, module, values


def open_with(uri: object, deps: Mapping[str, Any] | None = None, **options: Any) -> Source:
    """:func:`open_source` with injected driver dependencies (library factories, for tests)."""
    parsed, module, values = check_uri(uri, **options)
    source: Source = module.create(parsed, values, **dict(deps or {}))
    try:
        source.start()
    except BaseException:
        source.close()
        raise
    return source


def open_source(uri: object, **options: Any) -> Source:
    """Open a capture source by URI and start its grabber.

    Args:
        uri: ``scheme://location[?opt=value&...]``, e.g. ``v4l2:///dev/video0?width=1280``,
            ``synthetic://face?fps=30``, ``dicom:///data/export/``. See ``docs/capture.md``.
        **options: the same options as keywords (they override the query string). Every source
            takes ``latest``, ``queue_size``, ``reconnect``, ``backoff_initial_s``,
            ``backoff_max_s``, ``max_reconnects``, ``timeout_s``; drivers add their own.

    Returns:
        A started :class:`~biogate.capture.source.Source` (iterator of Frames, context manager).

    Raises:
        ConfigError: unknown scheme or option, or a bad value (the message lists the valid ones).
        SourceError: the device, file or folder cannot be opened (the message names the URI).
        BackendUnavailable: the driver's optional library (picamera2, adafruit_mlx90640) is missing.
    """
    return open_with(uri, None, **options)


def describe(scheme: str) -> str:
    """The grammar and options of one scheme, as text."""
    from .options import option_help

    module = driver_module(scheme)
    doc = (module.__doc__ or "").strip().splitlines()
    head = doc[0] if doc else scheme
    return f"{head}\n  {module.GRAMMAR}\n{option_help(module.OPTIONS)}"
