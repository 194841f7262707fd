"""Gate check for field technicians: talk to the gate controller on a serial port.

    python examples/gate_check.py /dev/ttyUSB0 --key-file /etc/biogate/gate.key status
    python examples/gate_check.py /dev/ttyUSB0 --key-file gate.key open --ms 2000
    python examples/gate_check.py /dev/ttyUSB0 --key-file gate.key watch      # heartbeat + events
    python examples/gate_check.py --simulate status                          # no hardware: firmware simulator

``status`` prints the relay, door sensor, faults, firmware version and uptime; ``open``/``deny``
send one authenticated command and wait for its ACK; ``watch`` keeps the link up with heartbeats
and prints every event (door forced, held open, tamper, power) until Ctrl-C — a lost link is
reported within two heartbeat periods.
"""

from __future__ import annotations

import argparse
import sys
import time

from biogate.errors import BiogateError
from biogate.firmware_bridge import GateClient, GateSimulator
from biogate.firmware_bridge.keys import load_key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", nargs="?", help="serial device or pyserial URL (omit with --simulate)")
    parser.add_argument("--key-file", help="the controller's key (default: $BIOGATE_GATE_KEY)")
    parser.add_argument("--simulate", action="store_true", help="start the firmware simulator on a pty")
    parser.add_argument("--heartbeat", type=float, default=0.25, help="heartbeat period in s")
    parser.add_argument("action", choices=("status", "open", "deny", "watch"))
    parser.add_argument("--ms", type=int, default=2000, help="open: relay time in ms")
    args = parser.parse_args()
    sim = None
    try:
        if args.simulate:
            key = bytes(range(32))
            sim = GateSimulator(key).start()
            port = sim.port
            print(f"simulator on {port}")
        elif args.port:
            key, port = load_key(args.key_file), args.port
        else:
            parser.error("give a port, or --simulate")
        events = []
        with GateClient(port, key, heartbeat_s=args.heartbeat, on_event=events.append) as gate:
            if args.action == "status":
                s = gate.status()
                print(
                    f"relay {'OPEN' if s.relay_open else 'closed'}, "
                    f"door {'open' if s.door_open else 'closed'}, "
                    f"faults {s.faults!s}, firmware {s.firmware_version}, uptime {s.uptime_ms / 1000:.1f} s"
                )
            elif args.action == "open":
                t0 = time.perf_counter()
                gate.open(args.ms)
                print(f"OPEN for {args.ms} ms acknowledged in {(time.perf_counter() - t0) * 1000:.1f} ms")
            elif args.action == "deny":
                gate.deny()
                print("DENY acknowledged")
            else:
                print("watching (Ctrl-C to stop)")
                seen = 0
                try:
                    while True:
                        time.sleep(0.2)
                        for event in events[seen:]:
                            print(f"{time.strftime('%H:%M:%S')} event {event}")
                        seen = len(events)
                        if not gate.link_ok:
                            print("link lost")
                            return 1
                except KeyboardInterrupt:
                    pass
    except BiogateError as exc:
        print(f"gate_check: {exc}", file=sys.stderr)
        return 2
    finally:
        if sim is not None:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
