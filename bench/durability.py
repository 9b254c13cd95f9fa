"""What each acknowledgement setting costs the receiver, against the bare endpoint, in one run.

    python -m bench.durability [--rounds 3] [--duration 10] [--connections 64] [--rate 1000]

Four servers run side by side, each measured while the others are idle: the bare endpoint
(`uvicorn bench.bare_app:app` on uvicorn's defaults, bench/receiver.py's baseline) and three
`zoom-ingest receiver`s, each with a redis-server of its own (AOF on):
`appendfsync everysec` (the default), `appendfsync always` (200 once the event is on disk), and
everysec with one replica and ZOOM_INGEST_ACK_REPLICAS=1 (200 once a replica holds the event).
Closed loop: wrk -t1 -cC for D s, after a 3 s warm-up, servers in turn for R rounds (medians).
Fixed rate: bench/httpload.py open loop at --rate. Also Redis memory per waiting event, read from
INFO used_memory before and after the runs' events are counted, for sizing a primary.
Pinning as bench/receiver.py: servers on --server-cpus, wrk, httpload and redis on --client-cpus.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from redis import Redis

from bench import bare_app
from bench.common import (
    distinct_bodies,
    emit,
    log,
    pin,
    service_environment,
    signed_request,
    spawn,
    stop_on_sigterm,
    write_requests,
    zoom_ingest,
)
from bench.loadgen import run_httpload, run_wrk, wrk_script
from bench.receiver import closed_run, is_bare, median
from ops.services import RedisServer, free_port, wait_for_port

BENCH = "durability"
# name: (appendfsync, replicas, extra receiver settings)
SETUPS: dict[str, tuple[str, int, dict[str, str]]] = {
    "everysec": ("everysec", 0, {}),
    "always": ("always", 0, {}),
    "ack_replicas_1": ("everysec", 1, {"ack_replicas": "1"}),
}


@contextmanager
def redis_group(directory: Path, appendfsync: str, replicas: int, cpus: set[int]) -> Iterator[RedisServer]:
    primary = RedisServer(directory / "primary", appendfsync=appendfsync).start()
    servers = [primary] + [
        RedisServer(directory / f"replica-{n}", appendfsync=appendfsync, replica_of=primary.port).start()
        for n in range(replicas)
    ]
    try:
        for server in servers:
            if cpus and server.process is not None:
                pin(server.process.pid, cpus)
        client = Redis(port=primary.port)
        deadline = time.monotonic() + 30
        while int(client.info("replication")["connected_slaves"]) < replicas:
            if time.monotonic() > deadline:
                raise SystemExit("the replica did not connect within 30 s")
            time.sleep(0.1)
        yield primary
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--rate-duration", type=float, default=15.0)
    parser.add_argument("--rate-connections", type=int, default=32)
    parser.add_argument("--bodies", type=int, default=10000)
    parser.add_argument("--server-cpus", default="1")
    parser.add_argument("--client-cpus", default="0")
    args = parser.parse_args()
    stop_on_sigterm()
    client_cpus = {int(cpu) for cpu in args.client_cpus.split(",")} if args.client_cpus else set()
    servers: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoom-bench-durability-")))
        for name in ("bare", *SETUPS):
            port = free_port()
            server: dict[str, Any] = {"port": port, "closed": []}
            requests = [signed_request(body, port) for body in distinct_bodies(args.bodies)]
            server["requests"] = write_requests(directory / f"{name}.requests", requests)
            server["wrk"] = wrk_script(directory / f"{name}.lua", server["requests"])
            if name == "bare":
                command, environment = (
                    bare_app.command(),
                    service_environment("redis://x"),
                )
                server["redis"] = None
            else:
                appendfsync, replicas, extra = SETUPS[name]
                group = redis_group(directory / name, appendfsync, replicas, client_cpus)
                primary = stack.enter_context(group)
                server["redis"] = Redis(port=primary.port)
                environment = service_environment(primary.url, max_queued="100000000", **extra)
                command = zoom_ingest("receiver")
            command += ["--port", str(port), "--workers", "1"]
            server["process"] = stack.enter_context(
                spawn(command, environment, directory / f"{name}.log", args.server_cpus)
            )
            servers[name] = server
        for name, server in servers.items():
            wait_for_port(server["port"], 60)
            time.sleep(1.0)
            if is_bare(server["port"]) != (name == "bare"):
                raise SystemExit(f"{name}: the server on port {server['port']} is not the expected app")
            run_wrk(server["port"], server["wrk"], args.connections, 3, args.client_cpus)
            empty(server)
        for round_number in range(1, args.rounds + 1):
            for name, server in servers.items():
                redis = server["redis"]
                pid = redis.info("server")["process_id"] if redis is not None else server["process"].pid
                run = closed_run(server, pid, args)
                server["closed"].append(run)
                if name == "everysec" and round_number == 1:
                    server["bytes_per_event"] = bytes_per_event(redis)
                empty(server)
                log(f"round {round_number} {name}: {run['req_per_s']:.0f} req/s, p99 {run['p99_us']}us")
        for name, server in servers.items():
            options = ["--rate", str(args.rate), "--duration", str(args.rate_duration)]
            options += ["--connections", str(args.rate_connections)]
            requests = server["requests"]
            server["fixed"] = run_httpload(server["port"], requests, args.client_cpus, "open", *options)
            empty(server)
            log(f"{name}: p99 {server['fixed']['p99_ms']:.2f} ms at {args.rate:g} req/s")
    report(servers, args)


def empty(server: dict[str, Any]) -> None:
    if server["redis"] is not None:
        server["redis"].flushdb()


def bytes_per_event(redis: Redis) -> float:
    """Memory the waiting events take, per event: used_memory with them, then without them."""
    waiting = int(redis.llen("rq:queue:zoom-webhooks"))
    with_them = int(redis.info("memory")["used_memory"])
    redis.flushdb()
    return (with_them - int(redis.info("memory")["used_memory"])) / max(waiting, 1)


def report(servers: dict[str, dict[str, Any]], args: Any) -> None:
    bare = servers["bare"]
    setup = {"loadgen": "wrk -t1", "connections": args.connections, "duration_s": args.duration}
    setup |= {"rounds": args.rounds, "server_cpus": args.server_cpus or "any", "baseline_is": "bare endpoint"}
    for name in SETUPS:
        real = servers[name]
        closed, baseline = real["closed"], bare["closed"]
        runs = [round(run["req_per_s"]) for run in closed]
        rate, baseline_rate = median(closed, "req_per_s"), median(baseline, "req_per_s")
        emit(BENCH, f"{name}_req_per_s", rate, baseline_rate, runs=runs, **setup)
        p99, baseline_p99 = median(closed, "p99_us") / 1000, median(baseline, "p99_us") / 1000
        emit(BENCH, f"{name}_latency_p99_ms", p99, baseline_p99, **setup)
        errors = [sum(run["errors"] for run in runs_of) for runs_of in (closed, baseline)]
        emit(BENCH, f"{name}_errors", *errors)
        fixed = real["fixed"]
        emit(
            BENCH,
            f"{name}_p99_ms_at_{args.rate:g}_rps",
            fixed["p99_ms"],
            bare["fixed"]["p99_ms"],
            achieved_rps=round(fixed["req_per_s"], 1),
            errors=fixed["errors"],
            p50_ms=round(fixed["p50_ms"], 3),
            loadgen="bench.httpload open loop",
            connections=args.rate_connections,
        )
    emit(
        BENCH,
        "redis_bytes_per_waiting_event",
        servers["everysec"].get("bytes_per_event"),
        note="INFO used_memory with the first round's events waiting, minus without, per event",
    )


if __name__ == "__main__":
    main()
