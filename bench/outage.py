"""Elasticsearch down for longer than ZOOM_INGEST_ES_RETRY_SECONDS while events keep arriving.

    python -m bench.outage [--retry 10] [--down 60] [--rate 200] [--before 10]

A redis-server, an Elasticsearch node and one `zoom-ingest worker` with ZOOM_INGEST_ES_RETRY_SECONDS
= --retry. Events are written to the queue as the receiver writes them, --rate a second, from the
start until the node is back; the node is stopped after --before s and started again --down s
later. Figures: events sent, indexed, failed (in the failed registry), the deepest queue, the
batches the worker put back on the queue, and how long after the node was back the queue drained.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import Elasticsearch
from redis import Redis
from rq.registry import FailedJobRegistry

from bench.common import distinct_bodies, emit, log, redis_server, service_environment, spawn, zoom_ingest
from ops.services import ElasticsearchNode
from receiver.writer import EventWriter
from shared import queue
from shared.config import load_settings

BENCH = "outage"
INDEX = "logs-zoom.webhook-default"


def feed(redis_url: str, rate: int, bodies: list[bytes], stop: threading.Event, sent: list[int]) -> None:
    """--rate events a second, in tenths of a second, until stopped (or out of bodies)."""
    settings = load_settings(redis_url=redis_url)
    connection = Redis.from_url(redis_url)
    writer = EventWriter(queue.event_queue(settings, connection), settings)
    remaining = iter(bodies)
    started = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - started) * rate) - sent[0]
        batch = [body.decode() for _, body in zip(range(max(due, 0)), remaining, strict=False)]
        if batch:
            now = datetime.now(UTC)
            writer.write([writer.pack(body, "meeting.participant_joined", now) for body in batch])
            sent[0] += len(batch)
        stop.wait(0.1)


def indexed(es: Elasticsearch) -> int:
    if not es.indices.exists(index=INDEX):
        return 0
    es.indices.refresh(index=INDEX)
    return int(es.count(index=INDEX)["count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retry", type=int, default=10, help="ZOOM_INGEST_ES_RETRY_SECONDS")
    parser.add_argument("--down", type=float, default=60.0, help="seconds the node is down")
    parser.add_argument("--rate", type=int, default=200, help="events a second")
    parser.add_argument("--before", type=float, default=10.0, help="seconds before the node stops")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="zoom-bench-outage-"))
    # A directory of its own: the node's user cannot enter one inside `work` (mode 0700).
    node_dir = Path(tempfile.mkdtemp(prefix="zoom-bench-outage-es-"))
    node = ElasticsearchNode(node_dir).start()
    es = Elasticsearch(node.url, request_timeout=30)
    worker_log = work / "worker.log"
    try:
        with redis_server() as redis:
            connection = Redis.from_url(redis.url)
            environment = service_environment(redis.url, node.url, es_retry_seconds=str(arguments.retry))
            with spawn(zoom_ingest("worker"), environment, worker_log):
                stop, sent, deepest = threading.Event(), [0], [0]
                # Enough for the node's stop and restart too (a few minutes at most); made beforehand.
                bodies = distinct_bodies(int(arguments.rate * (arguments.before + arguments.down + 300)))
                feeder = threading.Thread(target=feed, args=(redis.url, arguments.rate, bodies, stop, sent))
                feeder.start()
                time.sleep(arguments.before)
                log(f"stopping Elasticsearch after {sent[0]} events")
                node.stop()
                down_until = time.monotonic() + arguments.down
                while time.monotonic() < down_until:
                    deepest[0] = max(deepest[0], connection.llen("rq:queue:zoom-webhooks"))
                    time.sleep(0.5)
                log(f"starting Elasticsearch again ({sent[0]} events sent)")
                node.start()
                back = time.monotonic()
                stop.set()
                feeder.join()
                while indexed(es) < sent[0] and time.monotonic() - back < 600:
                    deepest[0] = max(deepest[0], connection.llen("rq:queue:zoom-webhooks"))
                    time.sleep(0.5)
                drained = time.monotonic() - back
                failed = FailedJobRegistry("zoom-webhooks", connection=connection).count
                total = indexed(es)
        returned = worker_log.read_text().count("events back on the queue, taking no more")
        emit(BENCH, "events_sent", sent[0], retry_seconds=arguments.retry, down_seconds=arguments.down)
        emit(BENCH, "events_indexed", total)
        emit(BENCH, "events_failed", failed)
        emit(BENCH, "deepest_queue", deepest[0])
        emit(BENCH, "batches_put_back", returned)
        emit(BENCH, "drain_seconds_after_restart", drained)
    finally:
        es.close()
        node.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(node_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
