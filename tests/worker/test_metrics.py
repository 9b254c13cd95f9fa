"""Worker metrics as an operator scrapes them from ZOOM_INGEST_METRICS_PORT."""

from __future__ import annotations

from pathlib import Path

import httpx2
from elasticsearch import Elasticsearch
from redis import Redis

from ops.services import ElasticsearchNode, RedisServer, free_port
from shared.config import load_settings
from shared.queue import event_queue
from tests.support import (
    count_documents,
    enqueue_directly,
    event_body,
    metric_samples,
    running,
    service_environment,
    wait_for,
)


def test_indexed_duplicates_failures_batches_and_lag(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: Redis,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    bodies = [event_body("meeting.started", object={"id": n, "uuid": f"u{n}"}) for n in range(20)]
    enqueue_directly(redis_server.url, [*bodies, bodies[0]])  # the last one is a redelivery
    event_queue(load_settings(redis_url=redis_server.url), redis).enqueue_call("os.getcwd")
    port = free_port()
    environment = service_environment(redis_server.url, es_node.url, namespace, metrics_port=str(port))
    with running(["worker"], environment, tmp_path / "worker.log"):
        wait_for(lambda: count_documents(es, namespace) == 20, what="the documents")

        def scrape() -> dict:
            try:
                return metric_samples(httpx2.get(f"http://127.0.0.1:{port}/metrics").text)
            except httpx2.HTTPError:
                return {}

        indexed = ("zoom_ingest_events_indexed_total", ())
        wait_for(lambda: scrape().get(indexed) == 20, what="the counters")
        scraped = scrape()
    assert scraped[("zoom_ingest_events_duplicate_total", ())] == 1
    assert scraped[("zoom_ingest_events_failed_total", (("reason", "not_an_event_job"),))] == 1
    assert scraped[("zoom_ingest_bulk_batch_size_sum", ())] == 22
    assert scraped[("zoom_ingest_lag_seconds_count", ())] == 21
