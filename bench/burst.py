"""A burst with no worker running, then the drain into Elasticsearch.

    python -m bench.burst [--events 20000] [--connections 64] [--drain-workers 2]

1. Ingest: E signed, distinct webhooks from C concurrent keep-alive connections (bench/httpload.py,
   closed loop, each body sent once), first to the bare endpoint (baseline), then to
   `zoom-ingest receiver` (real redis-server, AOF on; Elasticsearch up, no worker). Servers on
   --server-cpus, the client and redis-server on --client-cpus.
2. Drain: `elasticsearch.helpers.bulk` of the same E documents into another namespace (baseline),
   then W `zoom-ingest worker` processes until all E events are searchable (refresh + _count).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import bare_app
from bench.common import (
    distinct_bodies,
    emit,
    log,
    peak_rss_mb,
    pin,
    redis_server,
    service_environment,
    signed_request,
    spawn,
    stop_on_sigterm,
    write_requests,
    zoom_ingest,
)
from bench.indexing import bulk_baseline, elasticsearch_node, run_workers, settings_for
from bench.loadgen import run_httpload
from ops.services import free_port, wait_for_port
from shared import queue
from shared.connection import connect

BENCH = "burst"


def ingest(
    name: str, command: list[str], bodies: list[bytes], environment: dict[str, str], args: Any
) -> dict[str, Any]:
    port = free_port()
    directory = Path(args.directory)
    requests = write_requests(directory / f"{name}.requests", [signed_request(b, port) for b in bodies])
    with spawn(
        [*command, "--port", str(port)], environment, directory / f"{name}.log", args.server_cpus
    ) as p:
        wait_for_port(port, 60)
        time.sleep(1.0)
        log(f"{name}: {len(bodies)} webhooks from {args.connections} connections")
        options = ["--connections", str(args.connections), "--count", str(len(bodies))]
        result = run_httpload(port, requests, args.client_cpus, "closed", *options)
        result["rss"] = peak_rss_mb(p.pid)
    log(f"{name}: {result['requests']} in {result['elapsed_s']:.1f}s, {result['errors']} errors")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, both servers (default 1)")
    parser.add_argument("--drain-workers", type=int, default=2, help="zoom-ingest worker processes")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up draining after (s)")
    parser.add_argument("--server-cpus", default="1", help="taskset list for servers ('' = no pinning)")
    parser.add_argument("--client-cpus", default="0", help="for the load generator and redis-server")
    args = parser.parse_args()
    stop_on_sigterm()
    bodies = distinct_bodies(args.events)
    with ExitStack() as stack:
        args.directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="zoom-bench-burst-"))
        redis = stack.enter_context(redis_server())
        node, es = stack.enter_context(elasticsearch_node())
        environment = service_environment(redis.url, node.url)
        assert redis.process is not None
        if args.client_cpus:
            pin(redis.process.pid, {int(cpu) for cpu in args.client_cpus.split(",")})
        bare = ingest("bare", bare_app.command(args.workers), bodies, environment, args)
        receiver = zoom_ingest("receiver", "--workers", str(args.workers))
        real = ingest("receiver", receiver, bodies, environment, args)
        settings = settings_for(node.url, redis.url)
        events = queue.event_queue(settings, connect(settings))
        queued = events.count
        pin(redis.process.pid, set(range(os.cpu_count() or 1)))

        log("drain baseline: helpers.bulk of the same documents")
        bulk_baseline(es, node.url, bodies[: min(2000, len(bodies))], "warmup")
        bulk_seconds, _ = bulk_baseline(es, node.url, bodies, "burstbulk")
        assert node.process is not None
        services = {"es": es, "es_pid": node.process.pid, "directory": Path(args.directory)}
        result = run_workers(
            environment, args.drain_workers, events, len(bodies), services, args.timeout, "defaults"
        )
    report(args, bare, real, queued, result, bulk_seconds)


def report(
    args: Any,
    bare: dict[str, Any],
    real: dict[str, Any],
    queued: int,
    result: dict[str, Any],
    bulk_seconds: float,
) -> None:
    common = {"events": args.events, "connections": args.connections, "uvicorn_workers": args.workers}
    emit(BENCH, "errors", real["errors"], bare["errors"], target="0", met=real["errors"] == 0, **common)
    emit(BENCH, "max_latency_ms", real["max_ms"], bare["max_ms"], target="< 1000", met=real["max_ms"] < 1000)
    emit(BENCH, "p99_latency_ms", real["p99_ms"], bare["p99_ms"])
    emit(BENCH, "ingest_elapsed_s", real["elapsed_s"], bare["elapsed_s"], req_per_s=round(real["req_per_s"]))
    emit(BENCH, "loadgen_process_cpu", real["loadgen_cpu_util"], bare["loadgen_cpu_util"], unit="cores")
    emit(BENCH, "jobs_queued", queued, real["ok"], note="queue length after the burst vs 200s received")
    emit(BENCH, "receiver_peak_rss_mb", real["rss"], bare["rss"], note="uvicorn process tree, VmHWM")
    emit(
        BENCH,
        "drain_events_per_s",
        result["count"] / result["elapsed_s"],
        args.events / bulk_seconds,
        drain_workers=args.drain_workers,
        searchable=result["count"],
        expected=args.events,
        elapsed_s=round(result["elapsed_s"], 2),
        startup_s=round(result["startup_s"], 2),
        events_per_s_after_first_claim=round(result["events_per_s"] or 0),
        worker_process_cpu=round(result["worker_cpu"], 3),
        es_process_cpu=round(result["es_cpu"], 3),
        failed_jobs=result["failed_jobs"],
        baseline_is="elasticsearch.helpers.bulk of the same documents, pre-built, one client",
        note="from starting the worker processes to all events searchable (refresh + _count)",
    )
    emit(
        BENCH,
        "worker_peak_rss_mb",
        result["rss"],
        result["idle_rss"],
        per_worker=result["per_worker_rss"],
        baseline_is="an idle zoom-ingest worker on an empty queue, same run",
    )


if __name__ == "__main__":
    main()
