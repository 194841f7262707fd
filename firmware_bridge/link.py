"""Serial plumbing of the host side: a COBS packetizer and pyserial's reader thread.

Built on ``serial.threaded``: :class:`GateProtocol` splits the byte stream on the COBS
delimiter (0x00) inside the reader thread and hands each block to its owner (the
:class:`~biogate.firmware_bridge.client.GateClient`); :class:`ReaderThread` owns the read
loop and the write lock.
"""

from __future__ import annotations

import logging
from typing import Any

import serial
import serial.threaded

from .framing import MAX_WIRE_LEN

log = logging.getLogger(__name__)


class GateProtocol(serial.threaded.Protocol):
    """COBS packetizer on 0x00 with a bounded buffer; hands each block to ``owner``.

    ``owner`` provides ``_on_block(block)``, ``_note_rejected(code)`` and
    ``_on_connection_lost(exc)``.
    """

    TERMINATOR = b"\x00"

    def __init__(self, owner: Any) -> None:
        self.client = owner
        self.buffer = bytearray()
        self.discarding = False
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer.extend(data)
        while True:
            end = self.buffer.find(self.TERMINATOR)
            if end < 0:
                break
            block = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            if self.discarding:
                self.discarding = False
                self.client._note_rejected("oversize")
            elif block:
                self.client._on_block(block)
        if len(self.buffer) > MAX_WIRE_LEN:
            # Garbage without delimiters: drop it and everything up to the next 0x00.
            self.buffer.clear()
            self.discarding = True

    def connection_lost(self, exc: BaseException | None) -> None:
        self.transport = None
        self.client._on_connection_lost(exc)


class ReaderThread(serial.threaded.ReaderThread):
    """``serial.threaded.ReaderThread`` whose loop also treats ``OSError`` as a lost port.

    pyserial's ``in_waiting`` raises a bare ``OSError`` (EIO) once the other end of a pty or
    a USB adapter is gone; the stock loop only catches ``SerialException`` and would die
    without calling ``connection_lost``.
    """

    def run(self) -> None:
        if not hasattr(self.serial, "cancel_read"):
            self.serial.timeout = 1
        self.protocol = self.protocol_factory()
        self.protocol.connection_made(self)
        self._connection_made.set()
        error: BaseException | None = None
        while self.alive and self.serial.is_open:
            try:
                data = self.serial.read(self.serial.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError) as exc:  # TypeError: fd closed meanwhile
                error = exc
                break
            if data:
                try:
                    self.protocol.data_received(data)
                except Exception as exc:  # a bug in the protocol, kept apart from I/O errors
                    log.exception("gate protocol failed on received data")
                    error = exc
                    break
        self.alive = False
        self.protocol.connection_lost(error)
        self.protocol = None
