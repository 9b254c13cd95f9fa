"""Prometheus metrics of the poller, served on ZOOM_INGEST_METRICS_PORT when it is set."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RECORDS = Counter("zoom_ingest_poll_records", "Report records put on the queue", ["stream"])
REQUESTS = Counter("zoom_ingest_poll_requests", "Report pages fetched", ["stream"])
RETRIES = Counter(
    "zoom_ingest_poll_retries",
    "Report requests retried after a 429, 5xx or connection error",
    ["stream", "kind"],
)
ERRORS = Counter(
    "zoom_ingest_poll_errors",
    "Polls given up (cursor untouched), by kind: oauth, unauthorized, forbidden, rate_limited, "
    "server_error, connection, bad_response, http_<status>",
    ["stream", "kind"],
)
LAST_SUCCESS = Gauge(
    "zoom_ingest_poll_last_success_timestamp_seconds", "When a poll of the stream last completed", ["stream"]
)
