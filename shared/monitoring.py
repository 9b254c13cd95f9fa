"""The monitoring listener: a process's Prometheus metrics on ZOOM_INGEST_METRICS_HOST:METRICS_PORT.

Every process (receiver, worker, poller) serves its metrics on a port of its own, never on the
receiver's webhook port: that one faces Zoom (the internet), the monitoring port faces a scraper.
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

from shared.config import ConfigError, Settings, env_name

log = logging.getLogger("zoom_ingest.metrics")


def serve_metrics(settings: Settings, registry: CollectorRegistry = REGISTRY) -> None:
    """Serve `registry` on the monitoring listener from a background thread; nothing when
    ZOOM_INGEST_METRICS_PORT is 0 (the default)."""
    if not settings.metrics_port:
        return
    host, port = settings.metrics_host, settings.metrics_port
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        raise ConfigError(
            f"{env_name('metrics_port')}: cannot listen on {host}:{port} ({error.strerror or error})"
        ) from None
    log.info("metrics on http://%s:%d/metrics", host, port)
