"""Source URIs, parsed once into a frozen, canonical :class:`SourceURI`.

Grammar: ``scheme://location[?key=value&key=value]``. The scheme is always explicit (a dot in
a name never makes it a file). Filesystem locations become absolute paths; a bare integer
after ``v4l2://`` or ``uvc-thermal://`` means ``/dev/videoN``. Values stay strings here; each
driver types them against its closed option set (:mod:`biogate.capture.options`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from ..errors import ConfigError

#: Schemes whose location is a filesystem path (made absolute when parsed).
PATH_SCHEMES = frozenset({"file", "dir", "dicom", "xray-raw", "v4l2", "uvc-thermal"})
#: Schemes where ``scheme://N`` names ``/dev/videoN``.
VIDEO_INDEX_SCHEMES = frozenset({"v4l2", "uvc-thermal"})


@dataclass(frozen=True)
class SourceURI:
    """A parsed source URI.

    Attributes:
        scheme: lower-case scheme (``v4l2``, ``synthetic`` ...).
        location: canonical location: an absolute path, a device path or a name (``face``, ``0``).
        params: query options in the order given, as ``(key, value)`` string pairs.
        raw: the text the URI was parsed from.
    """

    scheme: str
    location: str
    params: tuple[tuple[str, str], ...] = ()
    raw: str = ""

    @property
    def options(self) -> dict[str, str]:
        """The query options as a dict."""
        return dict(self.params)

    def __str__(self) -> str:
        text = f"{self.scheme}://{quote(self.location, safe='/:.-_~,')}"
        if self.params:
            text += "?" + "&".join(f"{k}={quote(v, safe='/:.-_~,')}" for k, v in self.params)
        return text


def parse_uri(uri: object) -> SourceURI:
    """Parse ``uri`` (a string or an existing :class:`SourceURI`) into a canonical :class:`SourceURI`.

    Raises:
        ConfigError: no ``scheme://``, an empty location, or a repeated query key.
    """
    if isinstance(uri, SourceURI):
        return uri
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(f"source URI must be a non-empty string like 'synthetic://face', got {uri!r}")
    text = uri.strip()
    if "://" not in text:
        raise ConfigError(
            f"source URI {text!r} has no scheme; write it as scheme://location "
            "(e.g. v4l2:///dev/video0, file://clip.mp4, synthetic://face)"
        )
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    location, _, query = rest.partition("?")
    location = unquote(location)
    params = tuple(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else ()
    keys = [k for k, _ in params]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ConfigError(f"source URI {text!r} repeats option(s) {', '.join(repeated)}")
    if not location:
        raise ConfigError(f"source URI {text!r} has an empty location after '{scheme}://'")
    if scheme in VIDEO_INDEX_SCHEMES and location.isdigit():
        location = f"/dev/video{int(location)}"
    elif scheme in PATH_SCHEMES:
        location = os.path.abspath(os.path.expanduser(location))
    return SourceURI(scheme=scheme, location=location, params=params, raw=text)
