"""One throwaway PostgreSQL for all fleet tests; each test gets its own database and roles."""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Any, Callable

import numpy as np
import pytest

from biogate.fleet.pgtemp import TempPostgres, find_pg_bin

_NO_PG = "no PostgreSQL binaries (initdb, pg_ctl) in PATH or /usr/lib/postgresql/*/bin: fleet tests skipped"
_count = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    if find_pg_bin() is None:
        pytest.skip(_NO_PG)
    server = TempPostgres()
    yield server
    server.close()


class Fleet:
    """A fresh fleet database: owner DSN, a site with its key, helpers for kiosks and users."""

    def __init__(self, server: TempPostgres, tmp_path) -> None:
        from biogate.fleet import FleetAdmin, connect, migrate
        from biogate.gallery import GalleryKey

        self.server = server
        self.db = f"fleet{os.getpid()}_{next(_count)}"
        self.dsn = server.create_database(self.db)
        with connect(self.dsn) as conn:
            migrate(conn, self.db)
            conn.commit()
        self.admin = FleetAdmin.connect(self.dsn)
        self.tmp = tmp_path
        self.site_key = GalleryKey.generate()
        self.admin.add_site("hq", "Head office", self.site_key)
        self.rng = np.random.default_rng(7)

    def kiosk(self, kiosk_id: str = "door1", site: str = "hq") -> str:
        """A kiosk's DSN (with its password, as a kiosk would read it from its password file)."""
        role, password = self.admin.add_kiosk(kiosk_id, site)
        return self.server.dsn(self.db, role, password)

    def user(self, name: str, group: str) -> str:
        password = self.admin.add_user(f"{self.db}_u_{name}", group)
        return self.server.dsn(self.db, f"{self.db}_u_{name}", password)

    def templates(self, n: int = 1, dim: int = 16) -> np.ndarray:
        return self.rng.normal(size=(n, dim)).astype(np.float32)

    def close(self) -> None:
        self.admin.close()


@pytest.fixture
def fleet(pg_server, tmp_path):
    f = Fleet(pg_server, tmp_path)
    yield f
    f.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Wait for ``predicate()`` to be true (checked on a short event wait), or fail the test."""
    event = threading.Event()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        event.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")
