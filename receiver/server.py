"""Run the receiver under uvicorn: workers, TLS and connection limits set on purpose."""

from __future__ import annotations

import os
import tempfile

import uvicorn
from starlette.applications import Starlette

from receiver.app import create_app
from shared import logs
from shared.config import Settings, load_settings


def build() -> Starlette:
    """The app of one uvicorn worker process, configured from the environment."""
    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings)


def serve(settings: Settings, workers: int = 1) -> None:
    # Fail here, with the settings error, before uvicorn forks workers that would each fail alone.
    create_app(settings)
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Worker processes count into files here; /metrics in any of them sums them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="zoom-ingest-metrics-")
    uvicorn.run(
        # Each uvicorn worker builds its own app from the (flag-updated) environment.
        "receiver.server:build",
        factory=True,
        host=settings.listen_host,
        port=settings.listen_port,
        workers=workers,
        ssl_certfile=str(settings.tls_certfile) if settings.tls_certfile else None,
        ssl_keyfile=str(settings.tls_keyfile) if settings.tls_keyfile else None,
        server_header=False,
        # Zoom sends one event per request; keep idle connections briefly, not forever.
        timeout_keep_alive=5,
        # Let in-flight enqueues finish on shutdown instead of dropping acknowledged work.
        timeout_graceful_shutdown=10,
        access_log=False,
        # Logging is ours (shared/logs.py), in every worker process.
        log_config=None,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )
