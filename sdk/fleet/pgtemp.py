"""A throwaway PostgreSQL server in a temporary folder, for tests, benchmarks and trials.

    with TempPostgres() as pg:            # initdb + pg_ctl start, loopback only
        dsn = pg.dsn()                    # superuser DSN (password authentication)
        pg.stop(); pg.start()             # a server outage, as the benchmark makes one

It listens on 127.0.0.1 only, with a random free port, SCRAM password authentication and a
random superuser password.  ``initdb`` refuses to run as root, so a root caller runs the server
as an unprivileged account (``BIOGATE_PG_USER``, else ``nobody``) that owns the data folder.
Binaries are looked up in ``PATH`` and then in ``/usr/lib/postgresql/*/bin`` (Debian's layout).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..errors import FleetError

#: Environment variable naming the account a root caller runs the throwaway server as.
PG_USER_ENV = "BIOGATE_PG_USER"
_TOOLS = ("initdb", "pg_ctl", "postgres")


def _version_key(path: str) -> tuple[int, ...]:
    digits = Path(path).parent.name.split(".")
    return tuple(int(d) for d in digits if d.isdigit())


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None`` when there is none."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        folder = Path(os.path.realpath(found)).parent
        if all((folder / t).exists() for t in _TOOLS):
            return folder
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if all(os.access(os.path.join(folder, t), os.X_OK) for t in _TOOLS):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demoter(user: str | None) -> tuple[Callable[[], None] | None, int | None, int | None]:
    """``(preexec_fn, uid, gid)`` to run the server as ``user`` (only when we are root)."""
    if os.geteuid() != 0:
        return None, None, None
    name = user or os.environ.get(PG_USER_ENV) or "nobody"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise FleetError(
            f"running as root, the throwaway PostgreSQL needs an unprivileged account: {name!r} does "
            f"not exist (set {PG_USER_ENV} to one that does)"
        ) from None
    uid, gid = entry.pw_uid, entry.pw_gid

    def demote() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return demote, uid, gid


class TempPostgres:
    """One PostgreSQL cluster in a temporary folder, removed again by :meth:`close`.

    Args:
        settings: extra ``postgresql.conf`` settings (``{"max_connections": 200}``).
        durable: keep ``fsync`` on (benchmarks); tests turn it off for speed.
        user: the account to run as when the caller is root (default ``$BIOGATE_PG_USER``/nobody).
    """

    def __init__(
        self, settings: dict[str, Any] | None = None, durable: bool = False, user: str | None = None
    ):
        folder = find_pg_bin()
        if folder is None:
            raise FleetError("no PostgreSQL binaries (initdb, pg_ctl) in PATH or /usr/lib/postgresql/*/bin")
        self.bin = folder
        self.password = secrets.token_urlsafe(24)
        self.superuser = "postgres"
        self.port = _free_port()
        self._demote, uid, gid = _demoter(user)
        # Not under pytest's 0700 tmp tree: the unprivileged server must be able to reach it.
        self.root = Path(tempfile.mkdtemp(prefix="biogate-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if uid is not None:
            for path in (self.root, pwfile):
                os.chown(path, uid, gid)
        self._running = False
        self._closed = False
        self._tool(
            "initdb", "-D", str(self.data), "-U", self.superuser, "--pwfile", str(pwfile),
            "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-instructions",
        )  # fmt: skip
        pwfile.unlink()
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": self.port,
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "on" if durable else "off",
            "synchronous_commit": "on" if durable else "off",
            "full_page_writes": "on" if durable else "off",
            "max_connections": 100,
            "shared_buffers": "'64MB'",
            "log_min_messages": "warning",
        }
        conf.update(settings or {})
        with (self.data / "postgresql.conf").open("a") as fh:
            fh.write("\n# biogate TempPostgres\n")
            fh.writelines(f"{k} = {v}\n" for k, v in conf.items())
        atexit.register(self.close)
        self.start()

    def _tool(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [str(self.bin / name), *args],
            preexec_fn=self._demote,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
            cwd=str(self.root),
        )
        if check and out.returncode != 0:
            text = out.stdout.decode(errors="replace").strip()[-2000:]
            raise FleetError(f"{name} failed (exit {out.returncode}): {text}")
        return out

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> TempPostgres:
        """Start the server and wait until it accepts connections."""
        if not self._running:
            self._tool("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
            self._running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, clean shutdown; ``immediate``: crash)."""
        if self._running:
            out = self._tool(
                "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False
            )
            if out.returncode != 0:
                self._kill_postmaster()
            self._running = False

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass

    @property
    def running(self) -> bool:
        return self._running

    def close(self) -> None:
        """Stop the server and delete its folder."""
        if self._closed:
            return
        self._closed = True
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            atexit.unregister(self.close)

    def __enter__(self) -> TempPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connecting ------------------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """A libpq connection string (superuser by default) to the loopback server."""
        user = user or self.superuser
        pw = self.password if user == self.superuser and password is None else password
        parts = [f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"]
        if pw:
            parts.append(f"password={pw}")
        return " ".join(parts)

    def create_database(self, name: str) -> str:
        """Create database ``name``; returns its superuser DSN."""
        from .db import connect

        with connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)
