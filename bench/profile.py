"""Where one receiver process spends its time under load: cProfile around `zoom-ingest receiver`.

    python -m bench.profile [--duration 20] [--connections 64] [--top 30]

A real redis-server (AOF on); one receiver process (receiver.server.serve, as `zoom-ingest
receiver` runs it) inside cProfile, pinned to CPU 1; wrk on CPU 0 with distinct signed bodies for
--duration seconds; then the receiver is stopped (SIGINT) and its profile read. Prints, on stdout,
the functions with the most own time and that time grouped by part (per request, in microseconds
of profiled time), and the request count. cProfile sees the event-loop thread only (not the thread
that writes to Redis), and its overhead inflates Python-level calls against C code: read the
shares, not the absolute figures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import signal
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    distinct_bodies,
    log,
    redis_server,
    service_environment,
    signed_request,
    spawn,
    stop_on_sigterm,
    write_requests,
)
from bench.loadgen import run_wrk, wrk_script
from ops.services import free_port, wait_for_port

# Parts of a request, by where a function lives (first match wins).
PARTS = (
    ("HTTP protocol (uvicorn httptools + receiver/protocol.py)", ("uvicorn/protocols", "receiver/protocol")),
    ("webhook endpoint (receiver/webhook.py, app.py)", ("receiver/webhook", "receiver/app")),
    ("authentication (HMAC)", ("receiver/authentication", "hmac")),
    ("job packing (receiver/writer.py, shared/queue.py, zlib)", ("receiver/writer", "shared/queue", "zlib")),
    ("group commit (receiver/commit.py, futures)", ("receiver/commit", "concurrent/futures")),
    ("metrics (prometheus_client)", ("prometheus_client", "receiver/metrics")),
    ("JSON", ("json/",)),
    ("event loop (asyncio; uvloop's C core: polling, socket reads and writes)", ("asyncio", "uvloop")),
)


def part(filename: str) -> str:
    for name, markers in PARTS:
        if any(marker in filename for marker in markers):
            return name
    return "other"


def own_time_by_part(stats: dict[Any, Any]) -> dict[str, float]:
    """Own time per part; a built-in function (file "~": zlib, socket writes, hashing...) counts
    for the parts of its callers, in proportion to the time each caller spent in it."""
    per_part: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, callers) in stats.items():
        if filename != "~" or not callers:
            per_part[part(filename)] += own
            continue
        spent = sum(timing[2] for timing in callers.values()) or 1.0
        for (caller_file, _, _), timing in callers.items():
            per_part[part(caller_file)] += own * timing[2] / spent
    return per_part


def serve_profiled(output: Path) -> None:
    """In the receiver's process: run it under cProfile until SIGINT, then write the profile."""
    from receiver.server import serve
    from shared.config import load_settings

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        serve(load_settings())
    finally:
        profiler.disable()
        profiler.dump_stats(output)


def report(stats: pstats.Stats, requests: int, top: int) -> None:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    per_part = own_time_by_part(raw)
    rows = []
    for (filename, line, function), (_, calls, own, _, _) in raw.items():
        rows.append((own, calls, f"{Path(filename).name}:{line}({function})" if line else function))
    total = sum(per_part.values())
    print(f"# {requests} requests, {total:.2f} s of profiled own time, {total / requests * 1e6:.1f} us each")
    print("\n| part | us per request | share |\n|---|---:|---:|")
    for name, seconds in sorted(per_part.items(), key=lambda item: -item[1]):
        print(f"| {name} | {seconds / requests * 1e6:.1f} | {seconds / total:.0%} |")
    print("\n| function | calls per request | own us per request |\n|---|---:|---:|")
    for own, calls, name in sorted(rows, reverse=True)[:top]:
        print(f"| `{name}` | {calls / requests:.2f} | {own / requests * 1e6:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=10000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the profiled child
    args = parser.parse_args()
    if args.serve:
        serve_profiled(args.serve)
        return
    stop_on_sigterm()
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoom-bench-profile-")))
        redis = stack.enter_context(redis_server())
        port = free_port()
        environment = service_environment(redis.url, max_queued="100000000", listen_port=str(port))
        environment["ZOOM_INGEST_LOG_LEVEL"] = "WARNING"
        requests = [signed_request(body, port) for body in distinct_bodies(args.bodies)]
        script = wrk_script(directory / "wrk.lua", write_requests(directory / "requests", requests))
        output = directory / "receiver.prof"
        command = [sys.executable, "-m", "bench.profile", "--serve", str(output)]
        process = stack.enter_context(spawn(command, environment, directory / "receiver.log", "1"))
        wait_for_port(port, 60)
        time.sleep(1.0)
        log(f"wrk, {args.connections} connections, {args.duration:g} s, against the profiled receiver")
        result = run_wrk(port, script, args.connections, args.duration, "0")
        log(f"{result['req_per_s']:.0f} req/s under the profiler, {result['errors']} errors")
        os.kill(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        if not output.exists():
            raise SystemExit(f"no profile written: {(directory / 'receiver.log').read_text()[-2000:]}")
        print(f"# cwd {REPO}, load average {os.getloadavg()[0]:.2f}")
        report(pstats.Stats(str(output)), result["requests"], args.top)


if __name__ == "__main__":
    main()
