"""Prometheus metrics of a worker process, served on ZOOM_INGEST_METRICS_PORT when it is set
(shared/monitoring.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INDEXED = Counter("zoom_ingest_events_indexed", "Events written to Elasticsearch")
DUPLICATES = Counter(
    "zoom_ingest_events_duplicate", "Events already in Elasticsearch (redelivered by Zoom or replayed)"
)
FAILED = Counter(
    "zoom_ingest_events_failed",
    "Events moved to the failed registry: rejected (refused for good by Elasticsearch), not_an_event_job",
    ["reason"],
)
RETURNED = Counter(
    "zoom_ingest_events_returned",
    "Events Elasticsearch did not take within ZOOM_INGEST_ES_RETRY_SECONDS, put back on the queue "
    "instead of failing",
)
PAUSED = Gauge(
    "zoom_ingest_claiming_paused", "1 while this worker takes no events because Elasticsearch does not answer"
)
RETRIES = Counter("zoom_ingest_es_retries", "Elasticsearch requests retried after a transient failure")
BATCH_SIZE = Histogram(
    "zoom_ingest_bulk_batch_size",
    "Events per bulk request",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
LAG_SECONDS = Histogram(
    "zoom_ingest_lag_seconds",
    "Time from the receiver accepting an event to the worker having it indexed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400),
)
