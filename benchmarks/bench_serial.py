"""Gate serial link: command round trip over a pty, and a fault-injection soak.

Runs the real firmware core (``biogate gate-sim``'s C host build) on a pseudo-terminal and
drives it with :class:`biogate.firmware_bridge.GateClient`.

1. RTT: ``open()`` (HMAC-tagged, counter-checked, ACKed) and ``status()`` round trips with
   no faults; p50/p99 after warm-up. Target: p99 <= 2 ms. A baseline row echoes 30 bytes
   through ``cat`` on a raw pty: the floor any pty protocol has on this machine (its tail is
   the scheduler's, which dominates on a loaded machine).
2. Soak: ``--n`` commands (OPEN/DENY/STATUS mix) while the simulator corrupts ``--corrupt``
   of the bytes and drops/duplicates ``--drop``/``--dup`` of the frames in both directions,
   and the bench replays a captured earlier OPEN every ``--replay-every`` commands.
   From the firmware's own trace:
   - ``wrong_opens``: relay openings not caused by a genuine OPEN, or a counter run twice;
   - ``lost_commands``: commands neither confirmed nor reported failed, or confirmed (ACK)
     but never executed;
   - ``replays_accepted``: executions whose counter was not above every earlier one.

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
from biogate.firmware_bridge import messages as m
from biogate.firmware_bridge.errors import GateProtocolError, GateTimeout
from biogate.firmware_bridge.framing import build_frame

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


def soak(args) -> dict[str, Any]:
    rng = random.Random(args.seed)
    sim = GateSimulator(KEY, corrupt=args.corrupt, drop=args.drop, dup=args.dup, seed=args.seed).start()
    issued: dict[int, int] = {}  # counter -> message type, for every authenticated command sent
    acked: dict[int, int] = {}
    outcomes = {"confirmed": 0, "reported_failed": 0, "no_outcome": 0, "replays_injected": 0}
    latencies: list[float] = []
    captured: list[bytes] = []
    t_start = time.perf_counter()
    try:
        client = GateClient(
            sim.port, KEY, response_timeout_s=args.response_timeout_ms / 1000, retries=args.retries
        )
        with client:
            for i in range(args.n):
                if args.replay_every and i and i % args.replay_every == 0 and captured:
                    client.send_raw(rng.choice(captured))  # an attacker replays a recorded OPEN
                    outcomes["replays_injected"] += 1
                roll = rng.random()
                msg_type = MsgType.OPEN if roll < 0.6 else MsgType.DENY if roll < 0.8 else MsgType.STATUS_REQ
                t0 = time.perf_counter()
                try:
                    if msg_type == MsgType.OPEN:
                        ack = client.open(20)
                        issued[ack.counter] = acked[ack.counter] = msg_type
                        if len(captured) < 64:
                            body = m.pack_body(MsgType.OPEN, 20, 0, counter=ack.counter)
                            captured.append(build_frame(MsgType.OPEN, ack.seq, body, KEY, True))
                    elif msg_type == MsgType.DENY:
                        ack = client.deny()
                        issued[ack.counter] = acked[ack.counter] = msg_type
                    else:
                        client.status()
                    outcomes["confirmed"] += 1
                    latencies.append((time.perf_counter() - t0) * 1e3)
                except GateTimeout as exc:  # reported failed; it may still have run, once
                    issued[exc.counter] = msg_type
                    outcomes["reported_failed"] += 1
                except GateProtocolError:  # NAK or link loss: reported failed, not run
                    outcomes["reported_failed"] += 1
                except Exception:  # anything else is a command the caller cannot account for
                    outcomes["no_outcome"] += 1
            retransmits = client.stats["retransmits"]
            resyncs = client.stats["resync"]
        counters = sim.sim_status(timeout=30)  # all trace lines before it have been read
    finally:
        sim.stop()
    elapsed = time.perf_counter() - t_start
    events = sim.events

    # Audit the firmware's trace.
    wrong_opens = replays_accepted = 0
    executed: dict[int, int] = {}
    last_counter = 0
    for idx, event in enumerate(events):
        if event["ev"] == "relay" and event["on"] == 1:
            following = events[idx + 1] if idx + 1 < len(events) else {}
            if not (following.get("ev") == "exec" and following.get("type") == MsgType.OPEN):
                wrong_opens += 1  # opened by something other than an OPEN being executed
        if event["ev"] != "exec":
            continue
        counter = event["counter"]
        if counter <= last_counter:
            replays_accepted += 1
        last_counter = max(last_counter, counter)
        if event["type"] == MsgType.OPEN and (counter in executed or issued.get(counter) != event["type"]):
            wrong_opens += 1  # ran twice, or not a command this host issued
        executed[counter] = event["type"]
    confirmed_not_run = sum(1 for c in acked if c not in executed)
    soak_stats = latency_stats(latencies) if latencies else {}
    return {
        "n": args.n,
        "elapsed_s": elapsed,
        "commands_per_s": args.n / elapsed,
        "wrong_opens": wrong_opens,
        "lost_commands": outcomes["no_outcome"] + confirmed_not_run,
        "replays_accepted": replays_accepted,
        "confirmed": outcomes["confirmed"],
        "reported_failed": outcomes["reported_failed"],
        "replays_injected": outcomes["replays_injected"],
        "executed": len(executed),
        "retransmits": retransmits,
        "counter_resyncs": resyncs,
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
                           "retransmits", "soak_p99_ms", "elapsed_s"])  # fmt: skip
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
    }
    config = {
        "n": args.n,
        "corrupt": args.corrupt,
        "drop": args.drop,
        "dup": args.dup,
        "replay_every": args.replay_every,
        "response_timeout_ms": args.response_timeout_ms,
        "retries": args.retries,
        "rtt_repeat": args.repeat,
        "seed": args.seed,
        "link": "pty (os pseudo-terminal), firmware core C host build",
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
