"""Fixtures: the simulator binary is built once per session into tmp; each test gets its own pty.

Set ``$BIOGATE_GATE_SIM`` to run these tests against another build of the simulator, e.g. an
ASan+UBSan one (docs/firmware.md).
"""

from __future__ import annotations

import pytest

from biogate.firmware_bridge import GateClient, GateSimulator
from biogate.firmware_bridge.simulator import simulator_binary

KEY = bytes(range(100, 132))


@pytest.fixture(scope="session", autouse=True)
def _sim_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("BIOGATE_CACHE", str(tmp_path_factory.mktemp("biogate-cache")))
    simulator_binary()
    yield
    mp.undo()


@pytest.fixture
def key() -> bytes:
    return KEY


@pytest.fixture
def make_sim():
    sims = []

    def factory(**options) -> GateSimulator:
        sim = GateSimulator(options.pop("key", KEY), **options).start()
        sims.append(sim)
        return sim

    yield factory
    for sim in sims:
        sim.stop()
        if not sim.killed:  # a clean exit: no sanitizer report, relay closed on the way out
            assert sim.returncode == 0, sim.stderr_text
            assert "runtime error" not in sim.stderr_text and "Sanitizer" not in sim.stderr_text


@pytest.fixture
def make_client():
    clients = []

    def factory(port: str, **options) -> GateClient:
        client = GateClient(port, options.pop("key", KEY), **options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
