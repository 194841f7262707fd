"""``[fleet]`` in kiosk.toml: the sync agent of a running kiosk, built from its configuration."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..gallery import Gallery
from .agent import FleetAgent, FreshGallery
from .keys import load_site_key


def agent_for_kiosk(config: Any, gallery: Gallery) -> tuple[FleetAgent, FreshGallery]:
    """The agent (not started) for a :class:`~biogate.kiosk.config.KioskConfig` with ``[fleet]``
    enabled, and the gallery view the match stage must use (it fails closed when stale)."""
    fleet = config.fleet
    where = "kiosk config [fleet]"
    for key in ("dsn", "site_key_file"):
        if not getattr(fleet, key):
            raise ConfigError(f"{where}: {key} is required when enabled = true")
    agent = FleetAgent(
        fleet.dsn,
        load_site_key(config.resolve(fleet.site_key_file)),
        gallery,
        config.resolve(fleet.state),
        poll_s=fleet.poll_s,
        max_staleness_s=fleet.max_staleness_s,
        reconnect_max_s=fleet.reconnect_max_s,
        password_file=config.resolve(fleet.password_file) or None,
        sslmode=fleet.sslmode or None,
        sslrootcert=config.resolve(fleet.sslrootcert) or None,
        sslcert=config.resolve(fleet.sslcert) or None,
        sslkey=config.resolve(fleet.sslkey) or None,
    )
    return agent, FreshGallery(gallery, agent)
