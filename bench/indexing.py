"""The Elasticsearch side of the benchmarks: a node, the bulk baseline, and timing a queue drain."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError, helpers
from rq import Queue
from rq.registry import FailedJobRegistry

from bench.common import cpu_seconds, log, peak_rss_mb, spawn, zoom_ingest
from ops.services import ElasticsearchNode

try:
    from receiver.writer import EventWriter
except ImportError:  # a commit from before the writer moved to the receiver (bench/run_all.sh <commit>)
    from shared.queue import EventWriter  # type: ignore[attr-defined,no-redef]
from shared import queue
from shared.config import Settings, load_settings
from shared.connection import connect
from worker.job import document_id, transform_options
from worker.sink import Sink
from worker.transform import to_document
from worker.transform.times import format_timestamp


@contextmanager
def elasticsearch_node(heap: str = "1g") -> Iterator[tuple[ElasticsearchNode, Elasticsearch]]:
    # As root the node runs as another user: its directory must be outside /root.
    directory = Path(tempfile.mkdtemp(prefix="zoom-bench-es-", dir="/tmp"))
    node = ElasticsearchNode(directory, heap=heap)
    try:
        log(f"starting elasticsearch (heap {heap})")
        node.start()
        client = Elasticsearch(node.url, request_timeout=120)
        yield node, client
        client.close()
    finally:
        node.stop()
        shutil.rmtree(directory, ignore_errors=True)


def settings_for(
    es_url: str, redis_url: str = "redis://127.0.0.1:1/0", namespace: str = "default"
) -> Settings:
    return load_settings(es_hosts=[es_url], redis_url=redis_url, namespace=namespace)


def searchable(es: Elasticsearch, index: str) -> int:
    try:
        es.indices.refresh(index=index)
        return int(es.count(index=index)["count"])
    except NotFoundError:
        return 0


def bulk_baseline(
    es: Elasticsearch, es_url: str, bodies: Sequence[bytes], namespace: str
) -> tuple[float, float]:
    """Seconds for elasticsearch.helpers.bulk (one client, chunks of 500, op_type create, the worker's
    ids) to make the documents searchable, and, timed apart, seconds spent building them beforehand
    (to_document and document_id, this process, one core)."""
    settings = settings_for(es_url, namespace=namespace)
    Sink(settings, es).install_template()
    options = transform_options(settings)
    received = datetime.now(UTC)
    actions = []
    building = time.monotonic()
    for body in bodies:
        document = to_document(body, received, options)
        document.setdefault("event", {})["ingested"] = format_timestamp(received)
        source = {"_op_type": "create", "_index": settings.data_stream, "_source": document}
        actions.append(source | {"_id": document_id(body.decode())})
    started = time.monotonic()
    build_seconds = started - building
    helpers.bulk(es, actions, chunk_size=500)
    count = searchable(es, settings.data_stream)
    elapsed = time.monotonic() - started
    if count != len(bodies):
        raise RuntimeError(f"bulk baseline: {count} of {len(bodies)} documents searchable")
    return elapsed, build_seconds


def enqueue_all(settings: Settings, bodies: Sequence[bytes], chunk: int = 500) -> Queue:
    """Put every body on the queue as the receiver does (its EventWriter, `chunk` per Redis
    transaction)."""
    events = queue.event_queue(settings, connect(settings))
    writer = EventWriter(events, settings)
    started = time.monotonic()
    for first in range(0, len(bodies), chunk):
        packed = []
        for body in bodies[first : first + chunk]:
            text = body.decode()
            packed.append(writer.pack(text, json.loads(text)["event"], datetime.now(UTC)))
        writer.write(packed)
    log(f"enqueued {len(bodies)} events in {time.monotonic() - started:.1f}s")
    return events


def drain(
    es: Elasticsearch,
    events: Queue,
    index: str,
    expected: int,
    started: float,
    workers: Sequence[subprocess.Popen[bytes]],
    timeout: float,
    on_done: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Time until `expected` documents are searchable in `index`, with workers started at `started`.

    While jobs are queued only the queue length is polled (cheap, no refresh); once it is empty,
    refresh + _count every 0.1 s. `on_done` runs as soon as the count is reached (before the
    workers are stopped: read their memory there). Gives up at the timeout or after 20 s without
    progress once the queue is empty."""
    initial = events.count
    first_claim: float | None = None
    deadline = started + timeout
    while time.monotonic() < deadline and events.count > 0:
        if first_claim is None and events.count < initial:
            first_claim = time.monotonic()
        if any(worker.poll() is not None for worker in workers):
            break
        time.sleep(0.02)
    count, last_count, last_change = 0, -1, time.monotonic()
    while True:
        count, now = searchable(es, index), time.monotonic()
        if count >= expected:
            break
        if count != last_count:
            last_count, last_change = count, now
        if now > deadline or now - last_change > 20:
            log(f"gave up waiting for {index}: {count}/{expected} searchable")
            break
        time.sleep(0.1)
    finished = time.monotonic()
    on_done()
    first_claim = first_claim or finished
    return {
        "count": count,
        "elapsed_s": finished - started,
        "startup_s": first_claim - started,
        "events_per_s": count / (finished - first_claim) if finished > first_claim else None,
        "failed_jobs": FailedJobRegistry(queue=events).count,
    }


def run_workers(
    environment: dict[str, str],
    count: int,
    events: Queue,
    expected: int,
    services: dict[str, Any],
    timeout: float,
    label: str,
) -> dict[str, Any]:
    """Start `count` zoom-ingest workers (plus an idle one on an empty queue, the memory baseline)
    and time the drain of `events` into the environment's namespace; stop them all."""
    directory: Path = services["directory"]
    index = load_settings(namespace=environment["ZOOM_INGEST_NAMESPACE"]).data_stream
    log(f"{count} worker(s), {label}: draining {events.count} events into {index}")
    idle_environment = environment | {"ZOOM_INGEST_QUEUE": "bench-idle"}
    figures: dict[str, Any] = {"es_cpu": cpu_seconds(services["es_pid"])}
    with ExitStack() as stack:
        started = time.monotonic()
        workers = [
            stack.enter_context(spawn(zoom_ingest("worker"), environment, directory / f"{index}-{n}.log"))
            for n in range(count)
        ]
        idle = stack.enter_context(spawn(zoom_ingest("worker"), idle_environment, directory / "idle.log"))

        def read_figures() -> None:
            # Before the workers stop: their peak RSS, and CPU use (cores) of workers and ES node.
            seconds = time.monotonic() - started
            figures["idle_rss"] = peak_rss_mb(idle.pid)
            figures["rss"] = max(peak_rss_mb(process.pid) for process in workers)
            figures["per_worker_rss"] = [round(peak_rss_mb(process.pid), 1) for process in workers]
            figures["worker_cpu_s"] = sum(cpu_seconds(process.pid) for process in workers)
            figures["idle_cpu_s"] = cpu_seconds(idle.pid)
            figures["worker_cpu"] = figures["worker_cpu_s"] / seconds
            figures["es_cpu"] = (cpu_seconds(services["es_pid"]) - figures["es_cpu"]) / seconds

        result = drain(services["es"], events, index, expected, started, workers, timeout, read_figures)
    result.update(figures)
    rate = result["events_per_s"] or 0.0
    log(f"{result['count']} searchable {result['elapsed_s']:.1f}s after start ({rate:.0f}/s after 1st claim)")
    return result
