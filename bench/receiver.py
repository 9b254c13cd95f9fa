"""Receiver throughput and latency against a plain Starlette endpoint on uvicorn's defaults.

    python -m bench.receiver [--rounds 3] [--duration 10] [--connections 64] [--workers 1] [--rate 1000]

The servers run at once, idle in turn: the baseline, a plain Starlette endpoint started the way a
user starts one (`uvicorn bench.bare_app:app`: uvloop, httptools, uvicorn's defaults; see
bench/bare_app.py), the same app with `--no-access-log` (a second, stricter line), and `zoom-ingest
receiver` with a real redis-server (AOF on). Closed loop: wrk,
one thread, C connections, signed distinct bodies cycled from a pre-built list, D seconds per run
after a 3 s warm-up, each in turn for R rounds (the median is reported, the machine is
noisy). Fixed rate: bench/httpload.py open loop at --rate. The servers run on --server-cpus; wrk,
httpload and redis-server on --client-cpus (taskset / sched_setaffinity).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from redis import Redis

from bench import bare_app
from bench.common import (
    cpu_busy_since,
    cpu_busy_ticks,
    cpu_seconds,
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
from bench.loadgen import run_httpload, run_wrk, wrk_script
from ops.services import free_port, wait_for_port
from shared import queue
from shared.config import load_settings

BENCH = "receiver"
# The baseline (uvicorn's defaults, access log on), the same app with `--no-access-log` (a second
# line: a stricter anchor than a user's default), and the receiver.
NAMES = ("bare", "bare_quiet", "receiver")


def is_bare(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/bare", timeout=5) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False


def closed_run(server: dict[str, Any], redis_pid: int, args: Any) -> dict[str, Any]:
    pid = server["process"].pid
    cpu, redis_cpu, ticks = cpu_seconds(pid), cpu_seconds(redis_pid), cpu_busy_ticks()
    result = run_wrk(server["port"], server["wrk"], args.connections, args.duration, args.client_cpus)
    result["server_cpu_util"] = (cpu_seconds(pid) - cpu) / result["seconds"]
    result["redis_cpu_util"] = (cpu_seconds(redis_pid) - redis_cpu) / result["seconds"]
    result["cpu_busy"] = cpu_busy_since(ticks)
    return result


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def cpu_us_per_request(runs: list[dict[str, Any]]) -> float:
    """Median over the runs of the server's CPU time per answered request, in microseconds: on a
    shared machine, where a server gets what CPU it can, steadier than requests per second."""
    return float(statistics.median(run["server_cpu_util"] / run["req_per_s"] * 1e6 for run in runs))


def report(bare: dict[str, Any], real: dict[str, Any], args: Any, enqueued: int) -> None:
    b, r = bare["closed"], real["closed"]
    wrk = {"loadgen": "wrk -t1", "connections": args.connections, "duration_s": args.duration}
    wrk["rounds"] = args.rounds
    ratio = median(r, "req_per_s") / median(b, "req_per_s")
    extra = {"target": "ratio >= 0.6", "met": ratio >= 0.6, "uvicorn_workers": args.workers}
    extra["baseline_is"] = "plain Starlette endpoint, `uvicorn bench.bare_app:app` (uvicorn's defaults)"
    extra |= {"server_cpus": args.server_cpus or "any", "loadgen_cpus": args.client_cpus or "any"}
    extra["runs"] = [round(run["req_per_s"]) for run in r]
    extra["baseline_runs"] = [round(run["req_per_s"]) for run in b]
    emit(BENCH, "req_per_s", median(r, "req_per_s"), median(b, "req_per_s"), **extra, **wrk)
    for figure in ("p50", "p99", "max"):
        key = f"{figure}_us"
        value, baseline = median(r, key) / 1000, median(b, key) / 1000
        target = {"target": "ratio <= 2", "met": value <= 2 * baseline} if figure == "p99" else {}
        # Each round's figure in ms beside the medians: a tail figure moves more than the mean.
        rounds = {"runs": [round(run[key] / 1000, 1) for run in r]}
        rounds["baseline_runs"] = [round(run[key] / 1000, 1) for run in b]
        emit(BENCH, f"latency_{figure}_ms", value, baseline, **wrk, **target, **rounds)
    errors, baseline_errors = sum(run["errors"] for run in r), sum(run["errors"] for run in b)
    emit(BENCH, "errors", errors, baseline_errors, requests=sum(run["requests"] for run in r))
    emit(BENCH, "server_process_cpu", median(r, "server_cpu_util"), median(b, "server_cpu_util"))
    emit(
        BENCH,
        "server_cpu_us_per_request",
        cpu_us_per_request(r),
        cpu_us_per_request(b),
        note="process tree CPU time / answered requests, wrk runs; the inverse ratio compares capacity",
    )
    emit(BENCH, "redis_process_cpu", median(r, "redis_cpu_util"), median(b, "redis_cpu_util"))
    emit(
        BENCH,
        "loadgen_process_cpu",
        median(r, "loadgen_cpu_util"),
        median(b, "loadgen_cpu_util"),
        cpu_busy=r[-1]["cpu_busy"],
        baseline_cpu_busy=b[-1]["cpu_busy"],
        note="wrk's CPU time per second (cores); cpu_busy: each core's busy fraction incl. irq/softirq",
    )
    bf, rf = bare["fixed"], real["fixed"]
    emit(
        BENCH,
        f"p99_ms_at_{args.rate:g}_rps",
        rf["p99_ms"],
        bf["p99_ms"],
        target="< 20",
        met=rf["p99_ms"] < 20,
        loadgen="bench.httpload open loop",
        connections=args.rate_connections,
        duration_s=args.rate_duration,
        achieved_rps=round(rf["req_per_s"], 1),
        baseline_achieved_rps=round(bf["req_per_s"], 1),
        errors=rf["errors"],
        p50_ms=round(rf["p50_ms"], 3),
        max_ms=round(rf["max_ms"], 3),
        service_p99_ms=round(rf["service_p99_ms"], 3),
        note="latency from the time each request was due (no coordinated omission)",
    )
    emit(
        BENCH,
        "loadgen_send_lag_p99_ms",
        rf["send_lag_p99_ms"],
        bf["send_lag_p99_ms"],
        loadgen_process_cpu=round(rf["loadgen_cpu_util"], 3),
        note="open loop: how late requests left the generator against their schedule",
    )
    emit(BENCH, "peak_rss_mb", real["rss"], bare["rss"], note="uvicorn process tree, VmHWM summed")
    emit(
        BENCH,
        "jobs_enqueued",
        enqueued,
        real["answered"],
        note="events in Redis after the runs vs 200s received; a few above: in flight when wrk stopped",
    )


def start_server(
    stack: ExitStack, name: str, command: list[str], directory: Path, environment: dict[str, str], args: Any
) -> dict[str, Any]:
    """A server process on a free port, with its own signed requests and wrk script."""
    port = free_port()
    log(f"{name}: signing {args.bodies} distinct bodies; server on :{port}, cpus {args.server_cpus or 'any'}")
    requests = [signed_request(body, port) for body in distinct_bodies(args.bodies)]
    server: dict[str, Any] = {"port": port, "closed": [], "answered": 0}
    server["requests"] = write_requests(directory / f"{name}.requests", requests)
    server["wrk"] = wrk_script(directory / f"{name}.lua", server["requests"])
    log_path = directory / f"{name}.log"
    command = [*command, "--port", str(port)]
    server["process"] = stack.enter_context(spawn(command, environment, log_path, args.server_cpus))
    return server


def check_and_warm_up(name: str, server: dict[str, Any], args: Any) -> None:
    wait_for_port(server["port"], 60)
    time.sleep(1.0)  # let every uvicorn worker finish starting
    if is_bare(server["port"]) != name.startswith("bare"):
        raise SystemExit(f"{name}: the server on port {server['port']} is not the expected app")
    warmup = run_wrk(server["port"], server["wrk"], args.connections, 3, args.client_cpus)
    server["answered"] += warmup["requests"] - warmup["errors"]


def report_quiet(quiet: dict[str, Any], real: dict[str, Any], args: Any) -> None:
    """The second line: against the plain app without its access log."""
    q, r = quiet["closed"], real["closed"]
    extra: dict[str, Any] = {"baseline_is": "plain Starlette, `uvicorn bench.bare_app:app --no-access-log`"}
    extra |= {"baseline_runs": [round(run["req_per_s"]) for run in q], "connections": args.connections}
    emit(BENCH, "req_per_s_vs_no_access_log", median(r, "req_per_s"), median(q, "req_per_s"), **extra)
    p99, baseline_p99 = median(r, "p99_us") / 1000, median(q, "p99_us") / 1000
    emit(BENCH, "latency_p99_ms_vs_no_access_log", p99, baseline_p99, connections=args.connections)
    emit(BENCH, "server_cpu_us_per_request_vs_no_access_log", cpu_us_per_request(r), cpu_us_per_request(q))
    fixed = real["fixed"]["p99_ms"]
    emit(BENCH, f"p99_ms_at_{args.rate:g}_rps_vs_no_access_log", fixed, quiet["fixed"]["p99_ms"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.receiver", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating closed-loop runs per server")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per closed-loop run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, both servers (default 1)")
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop requests/s (default 1000)")
    parser.add_argument("--rate-duration", type=float, default=15.0)
    parser.add_argument("--rate-connections", type=int, default=32)
    parser.add_argument("--bodies", type=int, default=10000, help="distinct signed bodies to cycle")
    parser.add_argument("--server-cpus", default="1", help="taskset list for servers ('' = no pinning)")
    parser.add_argument("--client-cpus", default="0", help="for wrk, httpload, redis-server")
    args = parser.parse_args()
    stop_on_sigterm()
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoom-bench-receiver-")))
        redis = stack.enter_context(redis_server())
        assert redis.process is not None
        if args.client_cpus:
            pin(redis.process.pid, {int(cpu) for cpu in args.client_cpus.split(",")})
        # Without a worker every accepted event stays in Redis: the queue is emptied after each run
        # (counted first), and the limit on waiting events is lifted so no run can reach it.
        environment = service_environment(redis.url, max_queued="100000000")
        events = queue.event_queue(load_settings(redis_url=redis.url), Redis.from_url(redis.url))
        enqueued = 0

        def empty_queue() -> None:
            nonlocal enqueued
            enqueued += events.count
            events.connection.flushdb()

        servers: dict[str, dict[str, Any]] = {}
        for name in NAMES:
            if name == "bare":
                command = bare_app.command(args.workers)
            elif name == "bare_quiet":
                command = [*bare_app.command(args.workers), "--no-access-log"]
            else:
                command = zoom_ingest("receiver", "--workers", str(args.workers))
            servers[name] = start_server(stack, name, command, directory, environment, args)
        for name, server in servers.items():
            check_and_warm_up(name, server, args)
            empty_queue()
        for round_number in range(1, args.rounds + 1):
            for name, server in servers.items():
                run = closed_run(server, redis.process.pid, args)
                server["closed"].append(run)
                server["answered"] += run["requests"] - run["errors"]
                empty_queue()
                log(f"round {round_number} {name}: {run['req_per_s']:.0f} req/s, p99 {run['p99_us']}us")
        for name, server in servers.items():
            options = ["--rate", str(args.rate), "--duration", str(args.rate_duration)]
            options += ["--connections", str(args.rate_connections)]
            server["fixed"] = run_httpload(
                server["port"], server["requests"], args.client_cpus, "open", *options
            )
            server["answered"] += server["fixed"]["ok"]
            empty_queue()
            server["rss"] = peak_rss_mb(server["process"].pid)
            log(f"{name}: p99 {server['fixed']['p99_ms']:.2f} ms at {args.rate:g} req/s")
    report(servers["bare"], servers["receiver"], args, enqueued)
    report_quiet(servers["bare_quiet"], servers["receiver"], args)


if __name__ == "__main__":
    main()
