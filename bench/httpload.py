"""A small HTTP/1.1 load generator on raw asyncio streams (uvloop when installed), for 127.0.0.1.

    python -m bench.httpload closed --port P --requests FILE --count N --connections C
    python -m bench.httpload open --port P --requests FILE --rate R --duration S --connections C

`closed`: C keep-alive connections each send the next request as soon as their previous answer
arrived, until N requests are sent (request i is the i-th of FILE, cycled), each exactly once.
`open`: requests are due at fixed times (rate R) whatever the answers; latency counts from the
time a request was due, not from when it could be sent, so a slow server cannot hide its queueing
(no coordinated omission). `send_lag` (sent - due) shows whether the generator itself kept up.
Prints one JSON object; latencies in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import percentile, read_requests

HOST = "127.0.0.1"


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def exchange(
    port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter]:
    """Send one request and read its answer: (status or error name, and the connection to go on
    with: a new one after an error)."""
    try:
        writer.write(request)
        return str(await read_response(reader)), reader, writer
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        writer.close()
        reader, writer = await asyncio.open_connection(HOST, port)
        return type(error).__name__, reader, writer


def summary(latencies: list[float], statuses: Counter[str], elapsed: float) -> dict[str, Any]:
    done = sum(statuses.values())
    return {
        "requests": done,
        "ok": statuses.get("200", 0),
        "errors": done - statuses.get("200", 0),
        "statuses": dict(statuses),
        "elapsed_s": elapsed,
        "req_per_s": done / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
    }


async def closed_loop(port: int, requests: list[bytes], count: int, connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    next_index = 0

    async def connection() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(HOST, port)
        while next_index < count:
            index, next_index = next_index, next_index + 1
            started = time.perf_counter()
            status, reader, writer = await exchange(port, reader, writer, requests[index % len(requests)])
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return summary(latencies, statuses, time.perf_counter() - started)


async def open_loop(
    port: int, requests: list[bytes], rate: float, duration: float, connections: int
) -> dict[str, Any]:
    """Request i is due at start + i/rate and goes out on connection i % C."""
    total = int(rate * duration)
    latencies: list[float] = []
    service: list[float] = []
    lags: list[float] = []
    statuses: Counter[str] = Counter()
    streams = [await asyncio.open_connection(HOST, port) for _ in range(connections)]
    start = time.perf_counter() + 0.05

    async def connection(number: int) -> None:
        reader, writer = streams[number]
        for index in range(number, total, connections):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            status, reader, writer = await exchange(port, reader, writer, requests[index % len(requests)])
            finished = time.perf_counter()
            latencies.append(finished - due)
            service.append(finished - sent)
            lags.append(sent - due)
            statuses[status] += 1
        writer.close()

    await asyncio.gather(*(connection(number) for number in range(connections)))
    result = summary(latencies, statuses, time.perf_counter() - start)
    result.update(
        {
            "target_rate": rate,
            "service_p99_ms": percentile(service, 99) * 1000,
            "send_lag_p99_ms": percentile(lags, 99) * 1000,
            "send_lag_max_ms": max(lags, default=float("nan")) * 1000,
        }
    )
    return result


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.httpload", description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["closed", "open"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=Path, required=True, help="length-prefixed raw requests")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--count", type=int, default=0, help="closed: requests to send (default: all)")
    parser.add_argument("--rate", type=float, default=1000.0, help="open: requests per second")
    parser.add_argument("--duration", type=float, default=15.0, help="open: seconds")
    arguments = parser.parse_args()
    requests = read_requests(arguments.requests)
    if arguments.mode == "closed":
        count = arguments.count or len(requests)
        work = closed_loop(arguments.port, requests, count, arguments.connections)
    else:
        work = open_loop(arguments.port, requests, arguments.rate, arguments.duration, arguments.connections)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        cpu = time.process_time()
        result = runner.run(work)
        # The generator's own CPU time per second of load: near 1.0 would mean it limits the rate.
        result["cpu_util"] = (time.process_time() - cpu) / result["elapsed_s"]
        result["loop"] = type(runner.get_loop()).__module__.split(".")[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
