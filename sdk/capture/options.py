"""Closed, typed option sets for sources.

Every driver declares its options as :class:`Option` entries; values arrive as URI query
strings or as keyword arguments to ``open_source`` (keywords win). An unknown key, a value
that does not parse or a value outside ``choices`` raises one :class:`ConfigError` naming the
URI, the key and the valid set, quoting the driver's grammar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..errors import ConfigError


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false, 1/0, yes/no or on/off")


def _to_roi(value: Any) -> tuple[int, int, int, int]:
    """``x,y,w,h`` (string or sequence) → a tuple of four non-negative ints with w, h > 0."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 4:
        raise ValueError("expected x,y,w,h")
    x, y, w, h = (int(p) for p in parts)
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise ValueError("expected x,y >= 0 and w,h > 0")
    return (x, y, w, h)


def _to_floats(value: Any) -> tuple[float, ...]:
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(float(p) for p in parts)


#: Converters by option kind; each raises ValueError on a bad value.
KINDS: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "int": lambda v: int(str(v), 0) if isinstance(v, str) else int(v),
    "float": float,
    "bool": _to_bool,
    "roi": _to_roi,
    "floats": _to_floats,
}


@dataclass(frozen=True)
class Option:
    """One option a driver accepts: name, kind (a key of :data:`KINDS`), default, help."""

    name: str
    kind: str
    default: Any
    help: str
    choices: Sequence[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def convert(self, value: Any) -> Any:
        """Type ``value``; raise ValueError with the reason when it does not fit."""
        if value is None:
            return None
        out = KINDS[self.kind](value)
        if self.kind == "float" and not math.isfinite(out):
            raise ValueError("must be a finite number")
        if self.choices is not None and out not in self.choices:
            raise ValueError(f"valid: {', '.join(str(c) for c in self.choices)}")
        if self.minimum is not None and out < self.minimum:
            raise ValueError(f"must be >= {self.minimum}")
        if self.maximum is not None and out > self.maximum:
            raise ValueError(f"must be <= {self.maximum}")
        return out


#: Options every source accepts (handled by :class:`biogate.capture.source.Source`).
COMMON_OPTIONS: tuple[Option, ...] = (
    Option("latest", "bool", None, "keep only the newest frame (default: true for live devices)"),
    Option(
        "queue_size",
        "int",
        8,
        "lossless mode: frames buffered before the grabber waits (0 = unbounded)",
        minimum=0,
    ),
    Option("reconnect", "bool", None, "reopen a lost device with capped exponential back-off"),
    Option("backoff_initial_s", "float", 0.1, "first reconnect delay in seconds", minimum=0.0),
    Option("backoff_max_s", "float", 5.0, "reconnect delay cap in seconds", minimum=0.0),
    Option(
        "max_reconnects", "int", 0, "give up after this many failed reopen attempts (0 = never)", minimum=0
    ),
    Option(
        "timeout_s",
        "float",
        10.0,
        "iteration raises SourceError after this long without a frame",
        minimum=0.0,
    ),
)


def option_help(options: Iterable[Option]) -> str:
    """A short text table of options (for error messages and ``--help``)."""
    return "\n".join(f"  {o.name} ({o.kind}, default {o.default!r}): {o.help}" for o in options)


def resolve_options(
    uri_text: str,
    grammar: str,
    specs: Sequence[Option],
    query: Mapping[str, str],
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """Merge query options and keyword options into typed values for ``specs``.

    Raises:
        ConfigError: an unknown key or a bad value, naming the URI, the key and the valid set.
    """
    by_name = {o.name: o for o in specs}
    merged: dict[str, Any] = dict(query)
    merged.update(kwargs)
    unknown = sorted(k for k in merged if k not in by_name)
    if unknown:
        raise ConfigError(
            f"source {uri_text!r}: unknown option(s) {', '.join(unknown)}; valid: "
            f"{', '.join(sorted(by_name))} (grammar: {grammar})"
        )
    values = {name: spec.default for name, spec in by_name.items()}
    for key, raw in merged.items():
        try:
            values[key] = by_name[key].convert(raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"source {uri_text!r}: bad value {raw!r} for option {key!r}: {exc}") from None
    return values
