"""Connecting to the fleet server: psycopg 3, TLS settings, credentials kept out of logs.

A connection string (libpq DSN or ``postgresql://`` URI) names the server and the role; the
password comes from a file (``password_file``), ``PGPASSWORD`` or ``~/.pgpass``, never from
the command line where ``ps`` shows it.  TLS is libpq's: ``sslmode`` (use ``verify-full``
across any network), ``sslrootcert``, and ``sslcert``/``sslkey`` for certificate login.  Every
message that shows a connection string shows it through :func:`redact`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from .._lazy import lazy_import
from ..errors import FleetError

#: Environment variable the CLI reads the server's connection string from.
DSN_ENV = "BIOGATE_FLEET_DSN"
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_SECRET_KEYS = ("password", "sslpassword")


def pg() -> Any:
    """The ``psycopg`` module, or a :class:`BackendUnavailable` naming the ``fleet`` extra."""
    return lazy_import("psycopg", "fleet")


def _parse(dsn: str) -> dict[str, Any]:
    try:
        return dict(pg().conninfo.conninfo_to_dict(dsn))
    except pg().ProgrammingError:
        raise FleetError(
            "the fleet connection string is not a valid libpq DSN or postgresql:// URI"
        ) from None


def redact(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***`` (safe to log and to show in errors)."""
    try:
        params = _parse(dsn)
    except Exception:
        return "<unparsable connection string>"
    for key in _SECRET_KEYS:
        if key in params:
            params[key] = "***"
    return " ".join(f"{k}={v}" for k, v in params.items())


def conninfo(
    dsn: str,
    *,
    password_file: str | None = None,
    sslmode: str | None = None,
    sslrootcert: str | None = None,
    sslcert: str | None = None,
    sslkey: str | None = None,
    application_name: str = "biogate",
    connect_timeout: float = 5.0,
) -> dict[str, Any]:
    """Connection parameters for ``dsn`` with the TLS options, password file and keep-alives."""
    params = _parse(dsn)
    if password_file:
        try:
            params["password"] = Path(password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise FleetError(f"cannot read fleet password file {password_file!r}: {exc.strerror}") from None
    if sslmode is not None:
        if sslmode not in SSLMODES:
            raise FleetError(f"sslmode {sslmode!r} is not one of {', '.join(SSLMODES)}")
        params["sslmode"] = sslmode
    for key, value in (("sslrootcert", sslrootcert), ("sslcert", sslcert), ("sslkey", sslkey)):
        if value:
            if not Path(value).is_file():
                raise FleetError(f"{key} file {value!r} does not exist")
            params[key] = value
    params.setdefault("application_name", application_name)
    params.setdefault("connect_timeout", max(1, round(connect_timeout)))
    # Notice a dead server or a cut cable within seconds, not after the kernel's two hours.
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", 5)
    params.setdefault("keepalives_interval", 2)
    params.setdefault("keepalives_count", 3)
    return params


def connect(dsn: str, *, autocommit: bool = False, **options: Any) -> Any:
    """A psycopg connection; a failure is one :class:`FleetError` that never shows a password."""
    psycopg = pg()
    params = conninfo(dsn, **options)
    try:
        return psycopg.connect(autocommit=autocommit, **params)
    except psycopg.Error as exc:
        raise FleetError(f"cannot connect to the fleet server ({redact(dsn)}): {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def describe(exc: BaseException) -> str:
    """One line for a database error, for logs and :class:`FleetError` messages."""
    return _first_line(exc)


def copy_in(cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Bulk-insert ``rows`` into ``fleet.<table>`` with COPY, through a temporary table.

    PostgreSQL refuses ``COPY FROM`` into a table with row-level security for every role the
    policies apply to (the enrolment role: only the owner bypasses them), while ``INSERT …
    SELECT`` from an unrestricted temporary table goes through the policies like any insert.
    """
    stage = f"biogate_stage_{table}"
    cols = ", ".join(columns)
    cur.execute(f"CREATE TEMP TABLE {stage} (LIKE fleet.{table} INCLUDING DEFAULTS) ON COMMIT DROP")
    with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cur.execute(f"INSERT INTO fleet.{table} ({cols}) SELECT {cols} FROM {stage}")
    cur.execute(f"DROP TABLE {stage}")
