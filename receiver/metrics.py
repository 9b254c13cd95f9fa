"""Prometheus metrics of the receiver, served on the monitoring listener (ZOOM_INGEST_METRICS_PORT,
shared/monitoring.py), never on the webhook port.

With several uvicorn workers each process counts for itself; `serve` points them all at one
PROMETHEUS_MULTIPROC_DIR and the listener, in the parent process, adds them up (prometheus-client's
multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter(
    "zoom_ingest_receiver_requests",
    "Webhook requests by outcome: accepted, url_validation, or the reason for refusing them",
    ["outcome"],
)
ENQUEUE_SECONDS = Histogram(
    "zoom_ingest_receiver_enqueue_seconds",
    "Time from accepting a webhook to Redis acknowledging it (includes waiting for its group)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
REQUEST_BYTES = Histogram(
    "zoom_ingest_receiver_request_bytes",
    "Size of webhook request bodies",
    buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
)

# REQUESTS.labels(outcome), looked up once per outcome rather than per request.
_COUNTERS: dict[str, Counter] = {}


def count(outcome: str) -> None:
    """Count one answer on the webhook path."""
    counter = _COUNTERS.get(outcome)
    if counter is None:
        counter = _COUNTERS[outcome] = REQUESTS.labels(outcome)
    counter.inc()


def registry() -> CollectorRegistry:
    """What a scrape reads: the sum over every uvicorn worker's files when they count into
    PROMETHEUS_MULTIPROC_DIR, else this process's own counters."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    combined = CollectorRegistry()
    MultiProcessCollector(combined)
    return combined
