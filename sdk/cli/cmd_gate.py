"""``biogate gate``: talk to a gate controller (real port or ``biogate gate-sim``) from the shell."""

from __future__ import annotations

import argparse

NAME = "gate"
HELP = "query or command a gate controller over serial: status, open, deny, alarm"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["status", "open", "deny", "alarm"], help="what to do")
    parser.add_argument(
        "--port", required=True, help="serial port or pyserial URL (/dev/ttyUSB0, /dev/pts/3)"
    )
    parser.add_argument("--key-file", metavar="PATH", help="the controller key (else $BIOGATE_GATE_KEY)")
    parser.add_argument("--baudrate", type=int, default=115200)
    parser.add_argument("--duration-ms", type=int, default=3000, help="for open: how long (ms)")
    parser.add_argument("--reason", type=int, default=0, help="reason/kind code sent with the command")


def _check(args: argparse.Namespace) -> None:
    """Every flag before the port is touched: one ConfigError naming the flag."""
    from biogate.errors import ConfigError

    if args.baudrate <= 0:
        raise ConfigError(f"--baudrate must be positive, got {args.baudrate}")
    if args.action == "open" and not 1 <= args.duration_ms <= 0xFFFF:
        raise ConfigError(
            f"--duration-ms must be 1..65535 (and at most the controller's maximum), got {args.duration_ms}"
        )
    if not 0 <= args.reason <= 0xFF:
        raise ConfigError(f"--reason must be 0..255, got {args.reason}")


def run(args: argparse.Namespace) -> int:
    from biogate.firmware_bridge import Fault, GateClient, load_key

    _check(args)
    key = load_key(args.key_file)  # a wrong key is reported naming this file (or $BIOGATE_GATE_KEY)
    with GateClient(args.port, key, baudrate=args.baudrate) as client:
        if args.action == "open":
            ack = client.open(args.duration_ms, reason=args.reason)
        elif args.action == "deny":
            ack = client.deny(reason=args.reason)
        elif args.action == "alarm":
            ack = client.alarm(kind=args.reason or 1)
        else:
            st = client.connect_status or client.status()  # read at connect, with the latched faults
            faults = ",".join(f.name.lower() for f in Fault if f & st.faults) or "none"
            print(
                f"relay {'open' if st.relay_open else 'closed'}, "
                f"door {'open' if st.door_open else 'closed'}, "
                f"faults {faults}, firmware {st.firmware_version}, uptime {st.uptime_ms / 1000:.1f} s, "
                f"boot count {st.boot_count}, session 0x{client.session_id or 0:08x}"
            )
            return 0
        print(
            f"{args.action}: ACK seq {ack.seq} counter {ack.counter} (session 0x{ack.session_id:08x}) "
            f"in {ack.rtt_s * 1e3:.2f} ms"
        )
    return 0
