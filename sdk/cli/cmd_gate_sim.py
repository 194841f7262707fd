"""``biogate gate-sim``: the real gate-controller firmware on a pseudo-terminal.

Prints the device path so any serial tool (``GateClient``, ``biogate gate``, ``picocom``)
can talk to it. stdin lines drive the simulated inputs: ``door open``, ``door close``,
``tamper on``, ``tamper off``, ``status``, ``reboot``. The key comes from ``--key-file`` or
``$BIOGATE_GATE_KEY``; it is passed to the simulator through its environment and never printed.
Every flag is checked before anything starts: a bad value is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading

NAME = "gate-sim"
HELP = "run the gate-controller firmware (C host build) on a pseudo-terminal"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from biogate.firmware_bridge.simulator import SIM_OPTIONS  # defaults and ranges live there

    def default(name: str):
        return SIM_OPTIONS[name][0]

    key = parser.add_argument_group("key (one of)")
    key.add_argument("--key-file", metavar="PATH", help="32-byte key as 64 hex digits (mode 600)")
    key.add_argument("--new-key", metavar="PATH", help="generate a fresh key into PATH (mode 600) and use it")

    fw = parser.add_argument_group("firmware")
    fw.add_argument(
        "--heartbeat-ms",
        type=int,
        default=default("heartbeat_ms"),
        help="close the relay after this silence (ms)",
    )
    fw.add_argument(
        "--max-open-ms",
        type=int,
        default=default("max_open_ms"),
        help="longest continuous opening (ms, <= 65535)",
    )
    fw.add_argument(
        "--door-held-ms",
        type=int,
        default=default("door_held_ms"),
        help="door open this long = held-open event",
    )
    fw.add_argument(
        "--state", metavar="PATH", help="NV storage: keep the boot count here (written atomically; optional)"
    )
    fw.add_argument("--fail-random", action="store_true", help="break the entropy source (no session opens)")
    faults = parser.add_argument_group("fault injection (both directions)")
    faults.add_argument(
        "--corrupt", type=float, default=default("corrupt"), help="probability per byte of corrupting it"
    )
    faults.add_argument(
        "--drop", type=float, default=default("drop"), help="probability per frame of dropping it"
    )
    faults.add_argument(
        "--dup", type=float, default=default("dup"), help="probability per frame of duplicating it"
    )
    faults.add_argument(
        "--delay-ms", type=int, default=default("delay_ms"), help="delay every outgoing frame by this much"
    )
    faults.add_argument("--seed", type=int, default=default("seed"), help="fault-injection random seed")
    parser.add_argument("--link", metavar="PATH", help="also create a symlink PATH -> the pty device")
    parser.add_argument("--trace", action="store_true", help="print the firmware trace (JSON lines)")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="exit after this many seconds (0 = never)"
    )


def run(args: argparse.Namespace) -> int:
    from biogate.errors import ConfigError
    from biogate.firmware_bridge import GateSimulator, generate_key_file, load_key
    from biogate.firmware_bridge.simulator import SIM_OPTIONS, check_sim_options

    options = {key: getattr(args, key) for key in SIM_OPTIONS}
    check_sim_options(options, args.state, flag_prefix="--")  # before any file is written
    if not args.duration >= 0:
        raise ConfigError(
            f"gate simulator --duration must be 0 (run until stopped) or more, got {args.duration}"
        )
    if args.link and not os.path.isdir(os.path.dirname(os.path.abspath(args.link))):
        raise ConfigError(f"gate simulator --link {args.link}: its folder does not exist")
    if args.new_key:
        generate_key_file(args.new_key)
        key = load_key(args.new_key)
    else:
        key = load_key(args.key_file)
    sim = GateSimulator(
        key, state_path=args.state, fail_random=args.fail_random, keep_events=False, **options
    )
    if args.trace:
        sim.listeners.append(lambda event: print(json.dumps(event), flush=True))
    else:
        sim.listeners.append(
            lambda event: event.get("ev") in ("status", "reboot") and print(json.dumps(event), flush=True)
        )
    sim.start()
    stop = threading.Event()
    try:
        if args.link:
            try:
                if os.path.islink(args.link):
                    os.unlink(args.link)
                os.symlink(sim.port, args.link)
            except OSError as exc:
                raise ConfigError(f"cannot create symlink {args.link}: {exc.strerror}") from None
        print(
            f"gate simulator on {sim.port}" + (f" (linked as {args.link})" if args.link else ""), flush=True
        )
        print(
            "stdin: 'door open', 'door close', 'tamper on', 'tamper off', 'status', 'reboot'; Ctrl-C quits",
            flush=True,
        )

        def forward_stdin() -> None:
            for line in sys.stdin:
                if line.strip():
                    sim.command(line.strip())
            # stdin closed (e.g. run in the background): keep running until signal or --duration

        threading.Thread(target=forward_stdin, name="gate-sim-stdin", daemon=True).start()
        stop.wait(args.duration if args.duration > 0 else None)
    finally:
        sim.stop()
        if args.link and os.path.islink(args.link):
            os.unlink(args.link)
    return 0
