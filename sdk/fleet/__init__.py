"""A fleet of kiosks: PostgreSQL as the gallery of record, every change on every kiosk in seconds.

See ``docs/fleet.md``.  Server side: :func:`migrate` (``biogate fleet init-db``) and
:class:`FleetAdmin` (sites, kiosks, enrolment, revocation, status).  Kiosk side:
:class:`FleetAgent` (sync + audit upload) and :class:`FreshGallery` (fail closed when stale).
psycopg 3 comes with the ``fleet`` extra (``pip install 'biogate[fleet]'``).
"""

from __future__ import annotations

from .admin import FleetAdmin, scram_verifier
from .agent import FleetAgent, FreshGallery
from .db import DSN_ENV, connect, redact
from .feed import Batch, IdentityState, SiteFeed
from .keys import SiteCipher, load_site_key
from .local import LocalGallery
from .schema import LATEST, migrate, schema_version
from .spool import FleetState

__all__ = [
    "DSN_ENV",
    "LATEST",
    "Batch",
    "FleetAdmin",
    "FleetAgent",
    "FleetState",
    "FreshGallery",
    "IdentityState",
    "LocalGallery",
    "SiteCipher",
    "SiteFeed",
    "connect",
    "load_site_key",
    "migrate",
    "redact",
    "schema_version",
    "scram_verifier",
]
