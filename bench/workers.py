"""`zoom-ingest receiver --workers N` against one receiver process, same run, same machine.

    python -m bench.workers [--workers 2] [--rounds 3] [--duration 10] [--connections 64]

Both receivers run at once, idle in turn, on one redis-server (AOF on), nothing pinned: the point
is what a second process buys on all the machine's cores (2 here), with wrk and redis-server
sharing them as they would a real host. Closed loop as in bench/receiver.py (wrk, one thread, C
connections, distinct signed bodies), alternating for R rounds; medians reported.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from redis import Redis

from bench.common import emit, log, redis_server, service_environment, stop_on_sigterm, zoom_ingest
from bench.receiver import check_and_warm_up, closed_run, median, start_server
from shared import queue
from shared.config import load_settings

BENCH = "receiver_workers"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the measured receiver")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=10000, help="distinct signed bodies to cycle")
    args = parser.parse_args()
    args.server_cpus = args.client_cpus = ""  # nothing pinned
    stop_on_sigterm()
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoom-bench-workers-")))
        redis = stack.enter_context(redis_server())
        assert redis.process is not None
        environment = service_environment(redis.url, max_queued="100000000")
        events = queue.event_queue(load_settings(redis_url=redis.url), Redis.from_url(redis.url))
        servers: dict[str, dict[str, Any]] = {}
        for workers in (1, args.workers):
            command = zoom_ingest("receiver", "--workers", str(workers))
            servers[str(workers)] = start_server(stack, f"{workers}w", command, directory, environment, args)
        for name, server in servers.items():
            check_and_warm_up(f"receiver {name}w", server, args)
            events.connection.flushdb()
        for round_number in range(1, args.rounds + 1):
            for name, server in servers.items():
                run = closed_run(server, redis.process.pid, args)
                server["closed"].append(run)
                events.connection.flushdb()
                log(f"round {round_number} {name}w: {run['req_per_s']:.0f} req/s, p99 {run['p99_us']}us")
    one, many = servers["1"]["closed"], servers[str(args.workers)]["closed"]
    setup = {"connections": args.connections, "duration_s": args.duration, "rounds": args.rounds}
    setup |= {"cores": os.cpu_count(), "pinning": "none"}
    emit(
        BENCH,
        "req_per_s",
        median(many, "req_per_s"),
        median(one, "req_per_s"),
        uvicorn_workers=args.workers,
        runs=[round(run["req_per_s"]) for run in many],
        baseline_runs=[round(run["req_per_s"]) for run in one],
        baseline_is="`zoom-ingest receiver` with one process, same run",
        **setup,
    )
    emit(BENCH, "latency_p99_ms", median(many, "p99_us") / 1000, median(one, "p99_us") / 1000, **setup)
    emit(BENCH, "errors", sum(run["errors"] for run in many), sum(run["errors"] for run in one))
    emit(BENCH, "server_process_cpu", median(many, "server_cpu_util"), median(one, "server_cpu_util"))


if __name__ == "__main__":
    main()
