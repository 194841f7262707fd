"""Typed configuration tables: one checker for every ``kiosk.toml`` key, driven by the annotations.

A table is a frozen dataclass deriving from :class:`Table`. Its field annotations (strings under
``from __future__ import annotations``) are parsed with :mod:`ast`, never evaluated, so
``float | None`` and ``list[int]`` work on Python 3.8; ranges and closed choices come from
:func:`checked`. ``Table.__post_init__`` checks every field (type first, then range), then calls
the class's :meth:`Table.validate` for the checks that span fields. A table built from TOML and one
built in Python are checked alike, and a field added later is covered without more code::

    @dataclass(frozen=True)
    class FleetConfig(Table):
        url: str = ""
        sync_s: float = checked(5.0, gt=0)
        peers: list[str] = field(default_factory=list)

Type rules (TOML has no null, so ``None`` only ever comes from a default):

* ``bool`` is ``true``/``false`` only (never 1/0 nor ``"no"``);
* ``int`` is an integer, never a bool nor a float (``1.5`` and ``3.0`` are refused);
* ``float`` is an integer or a float, finite (no ``nan``/``inf``), never a bool;
* ``str``; ``list[X]`` (a tuple is accepted from Python callers); ``dict[str, X]``; ``Any``;
* ``X | None`` / ``Optional[X]`` / ``Union[...]``.

A wrong value is a :class:`~biogate.errors.ConfigError` saying ``<key> must be <expected>, got
<value> (<its type>)``; the loader prefixes the file and the table. An annotation the checker
cannot read is a :class:`~biogate.errors.BiogateInternalError` (a bug, caught by the tests).
"""

from __future__ import annotations

import ast
import dataclasses
import math
import numbers
from typing import Any, Sequence

from ..errors import BiogateInternalError, ConfigError

_META = "biogate.check"  # dataclass field metadata key holding a field's Bounds


@dataclasses.dataclass(frozen=True)
class Bounds:
    """Range and closed set of one field's values (see :func:`checked`)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None

    def problem(self, value: Any) -> str | None:
        """``"must be …"`` when ``value`` is out of range or not a choice, else ``None``."""
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(str(c) for c in self.choices)}"
        if not _is_number(value):
            return None
        fits = (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
        )
        return None if fits else f"must be {self.describe()}"

    def describe(self) -> str:
        """The range in words: ``in (0, 1]``, ``>= 1``, ``< 10``."""
        low = self.ge if self.ge is not None else self.gt
        high = self.le if self.le is not None else self.lt
        if low is not None and high is not None:
            opening = "[" if self.ge is not None else "("
            closing = "]" if self.le is not None else ")"
            return f"in {opening}{_num(low)}, {_num(high)}{closing}"
        if low is not None:
            return f"{'>=' if self.ge is not None else '>'} {_num(low)}"
        if high is not None:
            return f"{'<=' if self.le is not None else '<'} {_num(high)}"
        return "any value"


def checked(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[Any] | None = None,
) -> Any:
    """A dataclass field with a range (``ge``/``gt``/``le``/``lt``) and/or closed ``choices``.

    ``None`` (an optional field left out) is never range-checked; the bounds apply to numbers,
    ``choices`` to any value.
    """
    bounds = Bounds(ge, gt, le, lt, None if choices is None else tuple(choices))
    return dataclasses.field(default=default, default_factory=default_factory, metadata={_META: bounds})


@dataclasses.dataclass(frozen=True)
class Kind:
    """A parsed annotation: ``name`` is bool, int, float, str, any, none, list, dict or union."""

    name: str
    args: tuple[Kind, ...] = ()


_SCALARS = {"bool": "bool", "int": "int", "float": "float", "str": "str", "Any": "any", "None": "none"}
_SINGULAR = {
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "any": "any value",
    "none": "left out",
}
_PLURAL = {
    "bool": "true/false values",
    "int": "integers",
    "float": "numbers",
    "str": "strings",
    "any": "values",
    "none": "nothing",
}
_SUPPORTED = "bool, int, float, str, Any, X | None, Optional[X], Union[...], list[X], dict[str, X]"


def parse_annotation(text: str) -> Kind:
    """The :class:`Kind` of an annotation string such as ``"list[list[float]] | None"``.

    Raises:
        BiogateInternalError: a form the checker does not support (a bug in the table class).
    """
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise _unsupported(text) from None
    return _kind(node, text)


def _kind(node: ast.AST, text: str) -> Kind:
    if isinstance(node, ast.Constant) and node.value is None:
        return Kind("none")
    name = _name(node)
    if name in _SCALARS:
        return Kind(_SCALARS[name])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([_kind(node.left, text), _kind(node.right, text)])
    if isinstance(node, ast.Subscript):
        base = _name(node.value)
        inner: Any = node.slice
        index = getattr(ast, "Index", None)  # Python 3.8 wraps the subscript in ast.Index
        if index is not None and isinstance(inner, index):
            inner = inner.value  # pragma: no cover - Python 3.8
        parts = [_kind(p, text) for p in (inner.elts if isinstance(inner, ast.Tuple) else [inner])]
        if base in ("list", "List") and len(parts) == 1:
            return Kind("list", (parts[0],))
        if base in ("dict", "Dict") and len(parts) == 2 and parts[0].name == "str":
            return Kind("dict", (parts[1],))
        if base == "Optional" and len(parts) == 1:
            return _union([parts[0], Kind("none")])
        if base == "Union":
            return _union(parts)
    raise _unsupported(text)


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.Any, typing.List
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return ""


def _union(parts: list[Kind]) -> Kind:
    flat: list[Kind] = []
    for part in parts:
        for k in part.args if part.name == "union" else (part,):
            if k not in flat:
                flat.append(k)
    return flat[0] if len(flat) == 1 else Kind("union", tuple(flat))


def _unsupported(text: str) -> BiogateInternalError:
    return BiogateInternalError(
        f"configuration annotation {text!r} is not supported by biogate.kiosk.schema (use {_SUPPORTED})"
    )


def describe(kind: Kind, plural: bool = False) -> str:
    """What ``kind`` accepts, in words: ``a number``, ``a list of lists of numbers``."""
    words = _PLURAL if plural else _SINGULAR
    if kind.name in words:
        return words[kind.name]
    if kind.name == "list":
        return f"{'lists' if plural else 'a list'} of {describe(kind.args[0], plural=True)}"
    if kind.name == "dict":
        head = "tables" if plural else "a table"
        return head if kind.args[0].name == "any" else f"{head} of {describe(kind.args[0], plural=True)}"
    options = [k for k in kind.args if k.name != "none"] or list(kind.args)
    return " or ".join(describe(k, plural) for k in options)


def problem(kind: Kind, value: Any, key: str) -> str | None:
    """``"KEY must be …, got …"`` when ``value`` does not fit ``kind``, else ``None``."""
    name = kind.name
    if name == "any":
        return None
    if name == "union":
        if any(problem(k, value, key) is None for k in kind.args):
            return None
        options = [k for k in kind.args if k.name != "none"]
        if len(options) == 1:  # an optional value: report the inner problem (deepest key)
            return problem(options[0], value, key)
        return _mismatch(kind, value, key)
    if name == "list":
        if not isinstance(value, (list, tuple)):
            return _mismatch(kind, value, key)
        for i, item in enumerate(value):
            found = problem(kind.args[0], item, f"{key}[{i}]")
            if found:
                return found
        return None
    if name == "dict":
        if not isinstance(value, dict):
            return _mismatch(kind, value, key)
        for k, item in value.items():
            if not isinstance(k, str):
                return f"{key} must have string keys, got {_shown(k)}"
            found = problem(kind.args[0], item, f"{key}.{k}")
            if found:
                return found
        return None
    if name == "float" and _is_number(value) and not math.isfinite(value):
        return f"{key} must be a finite number, got {value!r}"
    if _fits(name, value):
        return None
    return _mismatch(kind, value, key)


def _fits(name: str, value: Any) -> bool:
    if name == "none":
        return value is None
    if name == "bool":
        return isinstance(value, bool)
    if name == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if name == "float":
        return _is_number(value)
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _mismatch(kind: Kind, value: Any, key: str) -> str:
    return f"{key} must be {describe(kind)}, got {_shown(value)}"


def _shown(value: Any) -> str:
    """A value as the TOML user wrote it, and what it is: ``'abc' (a string)``, ``1.5 (a float)``."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(value, numbers.Integral):
        what = "an integer"
    elif isinstance(value, numbers.Real):
        what = "a float"
    elif isinstance(value, str):
        what = "a string"
    elif isinstance(value, (list, tuple)):
        what = "a list"
    elif isinstance(value, dict):
        what = "a table"
    else:
        what = type(value).__name__
    return f"{text} ({what})"


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One field of a table: its name, parsed annotation and bounds."""

    name: str
    kind: Kind
    bounds: Bounds

    def problem(self, value: Any) -> str | None:
        """``"NAME must be …"`` when ``value`` is of the wrong type or out of range, else ``None``."""
        found = problem(self.kind, value, self.name)
        if found or value is None:
            return found
        out_of_range = self.bounds.problem(value)
        return f"{self.name} {out_of_range}, got {value!r}" if out_of_range else None


_SPECS: dict[type, list[FieldSpec]] = {}


def field_specs(cls: type) -> list[FieldSpec]:
    """The checked fields of a dataclass, parsed once per class."""
    specs = _SPECS.get(cls)
    if specs is None:
        specs = []
        for f in dataclasses.fields(cls):
            text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            specs.append(FieldSpec(f.name, parse_annotation(text), f.metadata.get(_META) or Bounds()))
        _SPECS[cls] = specs
    return specs


def check_fields(instance: Any) -> None:
    """Check every field of a dataclass instance; the first problem is a :class:`ConfigError`."""
    for spec in field_specs(type(instance)):
        found = spec.problem(getattr(instance, spec.name))
        if found:
            raise ConfigError(found)


class Table:
    """Base of a configuration table: every field is checked when an instance is made.

    Subclasses are ``@dataclass(frozen=True)``; override :meth:`validate` for checks that span
    fields (it runs after every field passed its own check, so it may trust the types).
    """

    def __post_init__(self) -> None:
        check_fields(self)
        self.validate()

    def validate(self) -> None:
        """Checks across fields; raise :class:`ConfigError` naming the key(s). Default: none."""


def build_table(cls: type, table: Any, where: str) -> Any:
    """``cls(**table)`` for one parsed TOML table; every problem is one ConfigError prefixed ``where``.

    ``where`` names the file and the table, e.g. ``"kiosk.toml [gallery]"``. Unknown keys are
    refused with the list of valid ones (a typo must never fall back to a default at a door).
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {_shown(table)}")
    allowed = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        valid = ", ".join(sorted(allowed))
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {valid}")
    try:
        return cls(**table)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


__all__ = [
    "Bounds",
    "FieldSpec",
    "Kind",
    "Table",
    "build_table",
    "check_fields",
    "checked",
    "describe",
    "field_specs",
    "parse_annotation",
    "problem",
]
