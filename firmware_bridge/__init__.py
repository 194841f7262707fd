"""biogate.firmware_bridge — authenticated serial link to the gate controller (host side).

``GateClient`` talks to the controller firmware over any pyserial URL; ``GateSimulator``
runs that firmware (C host build) on a pseudo-terminal. Protocol: ``PROTOCOL.md``.
"""

from __future__ import annotations

from .client import Ack, GateClient
from .errors import (
    GateKeyMismatch,
    GateLinkLost,
    GateNak,
    GateProtocolError,
    GateSessionLost,
    GateTimeout,
    SimulatorUnavailable,
)
from .keys import GateKey, generate_key_file, load_key
from .link import GateProtocol
from .messages import EventKind, Fault, GateEvent, GateStatus, MsgType, NakCode
from .simulator import GateSimulator

__all__ = [
    "Ack",
    "EventKind",
    "Fault",
    "GateClient",
    "GateEvent",
    "GateKey",
    "GateKeyMismatch",
    "GateLinkLost",
    "GateNak",
    "GateProtocol",
    "GateProtocolError",
    "GateSessionLost",
    "GateSimulator",
    "GateStatus",
    "GateTimeout",
    "MsgType",
    "NakCode",
    "SimulatorUnavailable",
    "generate_key_file",
    "load_key",
]
