"""Run the receiver under uvicorn: workers, TLS and connection limits set on purpose."""

from __future__ import annotations

import uvicorn

from receiver.app import create_app
from shared.config import Settings


def serve(settings: Settings, workers: int = 1) -> None:
    # Fail here, with the settings error, before uvicorn forks workers that would each fail alone.
    create_app(settings)
    uvicorn.run(
        # Each uvicorn worker builds its own app from the (flag-updated) environment.
        "receiver.app:create_app",
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
    )
