"""biogate.firmware_bridge — authenticated serial link to the gate controller (host side).

``GateClient`` talks to the controller firmware over any pyserial URL; ``GateSimulator``
runs that firmware (C host build) on a pseudo-terminal. Protocol: ``PROTOCOL.md``.
"""

from __future__ import annotations

from .client import Ack, GateClient, GateProtocol
from .errors import GateLinkLost, GateNak, GateProtocolError, GateTimeout, SimulatorUnavailable
from .keys import generate_key_file, load_key
from .messages import EventKind, Fault, GateEvent, GateStatus, MsgType, NakCode
from .simulator import GateSimulator

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
