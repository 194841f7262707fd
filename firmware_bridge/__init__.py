"""biogate.firmware_bridge — authenticated serial link to the gate controller (host side).

``GateClient`` talks to the controller firmware over any pyserial URL; ``GateSimulator``
runs that firmware (C host build) on a pseudo-terminal. Protocol: ``PROTOCOL.md``.
"""

from __future__ import annotations

from .client import Ack, GateClient, GateProtocol  # noqa: F401
from .errors import GateLinkLost, GateNak, GateProtocolError, GateTimeout, SimulatorUnavailable  # noqa: F401
from .keys import generate_key_file, load_key  # noqa: F401
from .messages import EventKind, Fault, GateEvent, GateStatus, MsgType, NakCode  # noqa: F401
from .simulator import GateSimulator  # noqa: F401

__all__ = [
    "Ack",
    "EventKind",
    "Fault",
    "GateClient",
    "GateEvent",
    "GateLinkLost",
    "GateNak",
    "GateProtocol",
    "GateProtocolError",
    "GateSimulator",
    "GateStatus",
    "GateTimeout",
    "MsgType",
    "NakCode",
    "SimulatorUnavailable",
    "generate_key_file",
    "load_key",
]
