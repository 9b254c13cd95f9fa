"""Freshness: from the receiver's 200 to the document being searchable, at a steady rate.

    python -m bench.freshness [--rate 1000] [--duration 30] [--drain-workers 2]

What a person watching Discover feels. A real redis-server (AOF on), an Elasticsearch 8.14.1 node
with the index's default refresh interval (1 s; nothing set), 2 `zoom-ingest worker` processes and
one `zoom-ingest receiver`; nothing pinned. Distinct signed webhooks are sent open loop at --rate
per second for --duration seconds from 32 keep-alive connections (request i due at start + i/rate);
the time of each 200 is recorded. Meanwhile, every --poll seconds, one search asks which of the
acknowledged, not yet seen documents (ids query on the worker's document ids) are searchable; each
document's freshness is the end of the first search that returned it minus its 200 (so it is over-
rather than under-estimated, by at most one poll).

Baseline, same run, before (after a warm-up of the node): the same measurement for the same kind
of documents, built beforehand (to_document) and written by this process straight to Elasticsearch
with `_bulk` at the same rate (one request every 0.1 s), counted from each bulk response: the floor
the refresh interval sets.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, helpers

from bench.common import (
    distinct_bodies,
    emit,
    log,
    percentile,
    redis_server,
    service_environment,
    signed_request,
    spawn,
    stop_on_sigterm,
    zoom_ingest,
)
from bench.httpload import HOST, exchange
from bench.indexing import bulk_baseline, elasticsearch_node, settings_for
from ops.services import free_port, wait_for_port
from shared.config import data_stream_name
from worker.job import document_id, transform_options
from worker.transform import to_document

BENCH = "freshness"
CONNECTIONS = 32
BULK_INTERVAL = 0.1


class Watch:
    """Acknowledged documents (id -> time of the acknowledgement) until a search returns them."""

    def __init__(self, es: Elasticsearch, index: str, poll: float) -> None:
        self.es, self.index, self.poll = es, index, poll
        self.pending: dict[str, float] = {}
        self.freshness: list[float] = []
        self.searches = 0

    def acknowledged(self, identity: str) -> None:
        self.pending[identity] = time.monotonic()

    def search_once(self) -> None:
        identities = list(self.pending)[:10000]
        if not identities:
            return
        try:
            response = self.es.search(
                index=self.index, query={"ids": {"values": identities}}, size=len(identities), source=False
            )
        except ApiError as error:
            # The data stream is created by the first write; its shard starts just after.
            if error.meta.status in (404, 503):
                return
            raise
        seen = time.monotonic()
        self.searches += 1
        for hit in response["hits"]["hits"]:
            acknowledged = self.pending.pop(hit["_id"], None)
            if acknowledged is not None:
                self.freshness.append(seen - acknowledged)

    async def run(self, sending: asyncio.Task[Any], patience: float = 60.0) -> None:
        """Poll until sending is over and every acknowledged document was seen (or `patience`)."""
        give_up: float | None = None
        while not sending.done() or self.pending:
            await asyncio.to_thread(self.search_once)
            if sending.done():
                give_up = give_up or time.monotonic() + patience
                if time.monotonic() > give_up:
                    log(f"{len(self.pending)} acknowledged documents never became searchable")
                    break
            await asyncio.sleep(self.poll)


async def send_webhooks(port: int, bodies: list[bytes], rate: float, watch: Watch) -> dict[str, int]:
    """Open loop: body i due at start + i/rate, on connection i % CONNECTIONS."""
    requests = [signed_request(body, port) for body in bodies]
    identities = [document_id(body.decode()) for body in bodies]
    streams = [await asyncio.open_connection(HOST, port) for _ in range(CONNECTIONS)]
    statuses: dict[str, int] = {}
    start = time.perf_counter() + 0.05

    async def connection(number: int) -> None:
        reader, writer = streams[number]
        for index in range(number, len(requests), CONNECTIONS):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status, reader, writer = await exchange(port, reader, writer, requests[index])
            statuses[status] = statuses.get(status, 0) + 1
            if status == "200":
                watch.acknowledged(identities[index])
        writer.close()

    await asyncio.gather(*(connection(number) for number in range(CONNECTIONS)))
    return statuses


async def bulk_directly(
    es: Elasticsearch, index: str, bodies: list[bytes], rate: float, watch: Watch
) -> None:
    settings = settings_for("http://unused")
    options = transform_options(settings)
    received = datetime.now(UTC)
    identities = [document_id(body.decode()) for body in bodies]
    actions = [
        {
            "_op_type": "create",
            "_index": index,
            "_id": identity,
            "_source": to_document(body, received, options),
        }
        for body, identity in zip(bodies, identities, strict=True)
    ]
    per_request = max(1, round(rate * BULK_INTERVAL))
    start = time.perf_counter()
    for number, first in enumerate(range(0, len(actions), per_request)):
        delay = start + number * BULK_INTERVAL - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = actions[first : first + per_request]
        await asyncio.to_thread(helpers.bulk, es, chunk, chunk_size=len(chunk))
        for identity in identities[first : first + per_request]:
            watch.acknowledged(identity)


async def measure(es: Elasticsearch, index: str, poll: float, sender: Any) -> tuple[Watch, Any]:
    watch = Watch(es, index, poll)
    sending = asyncio.create_task(sender(watch))
    await watch.run(sending)
    return watch, await sending


def figures(watch: Watch) -> dict[str, float]:
    values = watch.freshness
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values, default=float("nan")),
        "count": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.freshness", description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="webhooks per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending")
    parser.add_argument("--drain-workers", type=int, default=2, help="zoom-ingest worker processes")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between searches")
    args = parser.parse_args()
    stop_on_sigterm()
    count = int(args.rate * args.duration)
    bodies = distinct_bodies(2 * count)
    baseline_bodies, bodies = bodies[:count], bodies[count:]
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server())
        node, es = stack.enter_context(elasticsearch_node())
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zoom-bench-freshness-")))
        environment = service_environment(redis.url, node.url)
        log("warm-up: 2,000 documents through _bulk")
        bulk_baseline(es, node.url, distinct_bodies(2000), "warmup")
        log(f"baseline: _bulk straight to Elasticsearch, {count} documents at {args.rate:g}/s")
        baseline_index = data_stream_name("freshbase")

        def direct(watch: Watch) -> Any:
            return bulk_directly(es, baseline_index, baseline_bodies, args.rate, watch)

        baseline, _ = asyncio.run(measure(es, baseline_index, args.poll, direct))
        for number in range(args.drain_workers):
            stack.enter_context(spawn(zoom_ingest("worker"), environment, directory / f"worker-{number}.log"))
        port = free_port()
        receiver = zoom_ingest("receiver", "--port", str(port))
        stack.enter_context(spawn(receiver, environment, directory / "receiver.log"))
        wait_for_port(port, 60)
        log(f"receiver: {count} webhooks at {args.rate:g}/s, {args.drain_workers} workers")

        def webhooks(watch: Watch) -> Any:
            return send_webhooks(port, bodies, args.rate, watch)

        real, statuses = asyncio.run(measure(es, data_stream_name("default"), args.poll, webhooks))
    report(figures(real), figures(baseline), statuses, count, args)


def report(real: dict[str, float], base: dict[str, float], statuses: Any, count: int, args: Any) -> None:
    setup = {"rate": args.rate, "duration_s": args.duration, "drain_workers": args.drain_workers}
    setup |= {"refresh_interval": "default (1s)", "poll_s": args.poll}
    baseline_is = "_bulk straight to Elasticsearch at the same rate, from each bulk response"
    emit(
        BENCH,
        "p99_s",
        real["p99"],
        base["p99"],
        target="< 2",
        met=real["p99"] < 2,
        baseline_is=baseline_is,
        **setup,
    )
    emit(BENCH, "p50_s", real["p50"], base["p50"], **setup)
    emit(BENCH, "max_s", real["max"], base["max"], **setup)
    emit(BENCH, "searchable", real["count"], base["count"], sent=count, statuses=statuses)


if __name__ == "__main__":
    main()
