"""Gate serial link: command round trip over a pty, and a fault-injection soak.

Runs the real firmware core (``biogate gate-sim``'s C host build) on a pseudo-terminal and
drives it with :class:`biogate.firmware_bridge.GateClient`.

1. RTT: ``open()`` (tagged under the session key, counter-checked, ACKed) and ``status()``
   round trips with no faults; p50/p99 after warm-up. Target: p99 <= 2 ms. A baseline row
   echoes 30 bytes through ``cat`` on a raw pty: the floor any pty protocol has on this
   machine (its tail is the scheduler's, which dominates on a loaded machine).
2. Soak: ``--n`` commands (OPEN/DENY/STATUS mix) while the simulator corrupts ``--corrupt``
   of the bytes and drops/duplicates ``--drop``/``--dup`` of the frames in both directions.
   A man in the middle on the line (``WireTap``) records every host frame and replays a
   captured earlier OPEN every ``--replay-every`` commands (from the current session or an
   older one); with ``--reboot-every N`` the controller also resets in place every N
   commands (sessions lost mid-run: the client re-handshakes, in-flight commands fail as
   ``GateSessionLost`` and are never re-sent). From the firmware's own trace:
   - ``wrong_opens``: relay openings not caused by a genuine OPEN, or an OPEN run twice or
     not issued by this host (keyed by session id and counter);
   - ``lost_commands``: commands neither confirmed nor reported failed, or confirmed (ACK)
     but never executed;
   - ``replays_accepted``: executions whose counter was not above every earlier one of
     their session, or in a session from before the controller's last reset.

    python benchmarks/bench_serial.py --json out/bench_serial.json
    python benchmarks/bench_serial.py --quick          # smoke: 300 soak commands
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import tty
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bar_plot, base_parser, latency_stats, print_table, time_call, write_report

from biogate.firmware_bridge import GateClient, GateSimulator, MsgType
from biogate.firmware_bridge.errors import GateProtocolError, GateTimeout
from biogate.firmware_bridge.wiretap import WireTap

KEY = bytes(range(7, 39))  # a bench-only key


def pty_echo_baseline(args) -> dict[str, Any]:
    """The floor under any pty protocol on this machine: 30 bytes through ``cat`` on a raw pty."""
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen(["cat"], stdin=slave, stdout=slave)
    msg = bytes(range(1, 31))

    def once() -> None:
        os.write(master, msg)
        got = 0
        while got < len(msg):
            got += len(os.read(master, 256))

    try:
        return {"case": "rtt_pty_echo_baseline", **time_call(once, repeat=args.repeat, warmup=args.warmup)}
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)


def measure_rtt(args) -> list[dict[str, Any]]:
    rows = [pty_echo_baseline(args)]
    with GateSimulator(KEY, trace=False) as sim, GateClient(sim.port, KEY) as client:
        for name, fn in (("open", lambda: client.open(20)), ("status", client.status)):
            stats = time_call(fn, repeat=args.repeat, warmup=args.warmup)
            rows.append({"case": f"rtt_{name}", **stats})
    return rows


def _audit(events: list[dict[str, Any]], issued: dict, acked: dict) -> dict[str, int]:
    """wrong_opens, replays_accepted and confirmed-but-never-run commands from the trace."""
    wrong_opens = replays_accepted = 0
    executed: dict[tuple[int, int], int] = {}
    last: dict[int, int] = {}  # session id -> last executed counter
    dead: set[int] = set()  # sessions from before the latest reset
    for idx, event in enumerate(events):
        if event["ev"] == "reboot":
            dead.update(last)
        if event["ev"] == "relay" and event["on"] == 1:
            following = events[idx + 1] if idx + 1 < len(events) else {}
            if not (following.get("ev") == "exec" and following.get("type") == MsgType.OPEN):
                wrong_opens += 1  # opened by something other than an OPEN being executed
        if event["ev"] != "exec":
            continue
        key = (event["sid"], event["counter"])
        if event["counter"] <= last.get(event["sid"], 0) or event["sid"] in dead:
            replays_accepted += 1
        last[event["sid"]] = max(last.get(event["sid"], 0), event["counter"])
        if event["type"] == MsgType.OPEN and (key in executed or issued.get(key) != event["type"]):
            wrong_opens += 1  # ran twice, or not a command this host issued
        executed[key] = event["type"]
    return {
        "wrong_opens": wrong_opens,
        "replays_accepted": replays_accepted,
        "executed": len(executed),
        "confirmed_not_run": sum(1 for c in acked if c not in executed),
    }


def soak(args) -> dict[str, Any]:
    rng = random.Random(args.seed)
    sim = GateSimulator(KEY, corrupt=args.corrupt, drop=args.drop, dup=args.dup, seed=args.seed).start()
    tap = WireTap(sim.port).start()
    issued: dict[tuple[int, int], int] = {}  # (session id, counter) -> type, every command sent
    acked: dict[tuple[int, int], int] = {}
    outcomes = {"confirmed": 0, "reported_failed": 0, "session_lost": 0, "no_outcome": 0}
    outcomes.update(replays_injected=0, reboots=0)
    latencies: list[float] = []
    opens_seen = 0
    t_start = time.perf_counter()
    try:
        client = GateClient(
            tap.port, KEY, response_timeout_s=args.response_timeout_ms / 1000, retries=args.retries
        )
        with client:
            for i in range(args.n):
                if args.replay_every and i and i % args.replay_every == 0:
                    captured = [f for f in tap.to_controller[-400:] if len(f) > 25 and f[2] == MsgType.OPEN]
                    if captured:  # an attacker on the wire replays a recorded OPEN
                        tap.inject_to_controller(rng.choice(captured))
                        outcomes["replays_injected"] += 1
                if args.reboot_every and i and i % args.reboot_every == 0:
                    sim.reboot()  # the controller resets under the host's feet
                    outcomes["reboots"] += 1
                roll = rng.random()
                msg_type = MsgType.OPEN if roll < 0.6 else MsgType.DENY if roll < 0.8 else MsgType.STATUS_REQ
                t0 = time.perf_counter()
                try:
                    if msg_type == MsgType.OPEN:
                        ack = client.open(20)
                        opens_seen += 1
                    elif msg_type == MsgType.DENY:
                        ack = client.deny()
                    else:
                        client.status()
                    if msg_type != MsgType.STATUS_REQ:
                        issued[(ack.session_id, ack.counter)] = acked[(ack.session_id, ack.counter)] = (
                            msg_type
                        )
                    outcomes["confirmed"] += 1
                    latencies.append((time.perf_counter() - t0) * 1e3)
                except GateTimeout as exc:  # reported failed; it may still have run, once
                    if exc.session_id:
                        issued[(exc.session_id, exc.counter)] = msg_type
                    outcomes["reported_failed"] += 1
                    outcomes["session_lost"] += type(exc).__name__ == "GateSessionLost"
                except GateProtocolError:  # NAK or link loss: reported failed, not run
                    outcomes["reported_failed"] += 1
                except Exception:  # anything else is a command the caller cannot account for
                    outcomes["no_outcome"] += 1
            stats = dict(client.stats)
        counters = sim.sim_status(timeout=30)  # all trace lines before it have been read
    finally:
        tap.stop()
        sim.stop()
    elapsed = time.perf_counter() - t_start
    audit = _audit(sim.events, issued, acked)
    soak_stats = latency_stats(latencies) if latencies else {}
    return {
        "n": args.n,
        "elapsed_s": elapsed,
        "commands_per_s": args.n / elapsed,
        "wrong_opens": audit["wrong_opens"],
        "lost_commands": outcomes["no_outcome"] + audit["confirmed_not_run"],
        "replays_accepted": audit["replays_accepted"],
        "confirmed": outcomes["confirmed"],
        "reported_failed": outcomes["reported_failed"],
        "session_lost_in_flight": outcomes["session_lost"],
        "replays_injected": outcomes["replays_injected"],
        "controller_resets": outcomes["reboots"],
        "executed": audit["executed"],
        "retransmits": stats.get("retransmits", 0),
        "sessions_opened": stats.get("sessions", 0),
        "sim_corrupted_bytes": counters["corrupted_bytes"],
        "sim_dropped_frames": counters["dropped_frames"],
        "sim_duplicated_frames": counters["duplicated_frames"],
        "sim_frames_rejected": counters["frames_rejected"],
        "soak_p50_ms": soak_stats.get("p50_ms"),
        "soak_p99_ms": soak_stats.get("p99_ms"),
    }


def main(argv=None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="soak commands")
    parser.add_argument("--corrupt", type=float, default=0.01, help="per-byte corruption probability")
    parser.add_argument("--drop", type=float, default=0.01, help="per-frame drop probability")
    parser.add_argument("--dup", type=float, default=0.01, help="per-frame duplication probability")
    parser.add_argument("--replay-every", type=int, default=100, help="inject a replayed OPEN this often")
    parser.add_argument(
        "--reboot-every", type=int, default=0, help="reset the controller this often (0 = never)"
    )
    parser.add_argument("--response-timeout-ms", type=float, default=15.0, help="client wait per attempt")
    parser.add_argument("--retries", type=int, default=15, help="client resends per command")
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(repeat=2000, warmup=100)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeat, args.warmup = min(args.n, 300), min(args.repeat, 200), 20

    rows = measure_rtt(args)
    print_table(rows, ["case", "p50_ms", "p99_ms", "mean_ms", "min_ms", "n"])
    result = soak(args)
    print_table([result], ["n", "wrong_opens", "lost_commands", "replays_accepted", "reported_failed",
                           "controller_resets", "retransmits", "soak_p99_ms", "elapsed_s"])  # fmt: skip
    by_case = {r["case"]: r for r in rows}
    rtt_p99 = by_case["rtt_open"]["p99_ms"]
    summary = {
        "rtt_p50_ms": by_case["rtt_open"]["p50_ms"],
        "rtt_p99_ms": rtt_p99,
        "rtt_target_met": rtt_p99 <= 2.0,
        "status_rtt_p99_ms": by_case["rtt_status"]["p99_ms"],
        "pty_echo_p99_ms": by_case["rtt_pty_echo_baseline"]["p99_ms"],
        "rtt_p99_over_echo_p99": rtt_p99 / by_case["rtt_pty_echo_baseline"]["p99_ms"],
        "soak_n": result["n"],
        "wrong_opens": result["wrong_opens"],
        "lost_commands": result["lost_commands"],
        "replays_accepted": result["replays_accepted"],
        "reported_failed": result["reported_failed"],
        "retransmits": result["retransmits"],
        "controller_resets": result["controller_resets"],
    }
    config = {
        "n": args.n,
        "corrupt": args.corrupt,
        "drop": args.drop,
        "dup": args.dup,
        "replay_every": args.replay_every,
        "reboot_every": args.reboot_every,
        "response_timeout_ms": args.response_timeout_ms,
        "retries": args.retries,
        "rtt_repeat": args.repeat,
        "seed": args.seed,
        "link": "pty (os pseudo-terminal), firmware core C host build; soak through a WireTap",
        "protocol_version": 2,
    }
    write_report(args, "serial", config, [*rows, {"case": "soak", **result}], summary)
    if args.plot:
        labels = [f"{r['case']} {q}" for r in rows for q in ("p50", "p99")]
        values = [r[f"{q}_ms"] for r in rows for q in ("p50", "p99")]
        bar_plot(args.plot, labels, values, "ms", "gate command round trip over a pty")
    ok = summary["wrong_opens"] == 0 and summary["lost_commands"] == 0 and summary["replays_accepted"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
