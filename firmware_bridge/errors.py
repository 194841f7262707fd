"""Typed errors of the gate link; all derive from :class:`biogate.errors.GateProtocolError`."""

from __future__ import annotations

from biogate.errors import BiogateError, GateProtocolError


class GateLinkLost(GateProtocolError):
    """No valid frame from the controller for two heartbeat periods, or the port failed."""


class GateTimeout(GateProtocolError):
    """A command got neither ACK nor NAK within its retry budget.

    The outcome is unknown: the controller may have run it and every answer was lost.
    It will never run it twice (every retransmission carries the same counter and tag).
    """

    def __init__(self, message: str, seq: int, counter: int, session_id: int = 0) -> None:
        super().__init__(message)
        self.seq = seq
        self.counter = counter
        self.session_id = session_id  # the session the command was sent in (0: none was)


class GateSessionLost(GateTimeout):
    """The controller no longer knows the session a command was sent in (it reset, or another
    host opened a session). The outcome is unknown, as for :class:`GateTimeout`; the command
    is never re-sent in the new session, which the client opens by itself."""


class GateKeyMismatch(GateProtocolError):
    """The controller's handshake reply does not verify under our key: the keys differ."""


class GateNak(GateProtocolError):
    """The controller refused a command; ``code`` is the NAK code (``NakCode``)."""

    def __init__(self, message: str, code: int, seq: int) -> None:
        super().__init__(message)
        self.code = code
        self.seq = seq


class SimulatorUnavailable(BiogateError):
    """The gate simulator could not be built or started (no C compiler, no pty support)."""


__all__ = [
    "GateKeyMismatch",
    "GateLinkLost",
    "GateNak",
    "GateProtocolError",
    "GateSessionLost",
    "GateTimeout",
    "SimulatorUnavailable",
]
