"""Run the receiver under uvicorn: workers, TLS and connection limits set on purpose, and the
metrics on the monitoring listener rather than on the webhook port."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

import uvicorn

from receiver import metrics
from receiver.app import Receiver, create_app
from receiver.protocol import GuardedHttpToolsProtocol
from shared import logs
from shared.config import ConfigError, Settings, env_name, load_settings
from shared.monitoring import serve_metrics

ROLE = "receiver"


def build() -> Receiver:
    """The app of one uvicorn worker process, configured from the environment."""
    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format, ROLE)
    return create_app(settings)


def tls_problem(certificate: Path, key: Path) -> str | None:
    """Why HTTPS cannot be served with this certificate and key, in one line; None when they load."""
    try:
        # A password callback, not OpenSSL's prompt: an encrypted key fails instead of waiting.
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            certificate, key, password=lambda: b""
        )
    except ssl.SSLError as error:
        swapped = _holds(certificate, b"PRIVATE KEY-----") and _holds(key, b"-----BEGIN CERTIFICATE")
        hint = f" ({env_name('tls_certfile')} holds the key and {env_name('tls_keyfile')} the certificate)"
        return f"the certificate and key do not load as a pair: {error}" + (hint if swapped else "")
    except OSError as error:
        return f"{error.filename or certificate}: {error.strerror or error}"
    return None


def _holds(path: Path, marker: bytes) -> bool:
    try:
        return marker in path.read_bytes()
    except OSError:
        return False


def serve(settings: Settings, workers: int = 1) -> None:
    # Fail here, with the settings error, before uvicorn forks workers that would each fail alone.
    create_app(settings)
    if settings.tls_certfile is not None and settings.tls_keyfile is not None:
        # uvicorn would end with OpenSSL's traceback; one line naming the settings says more.
        problem = tls_problem(settings.tls_certfile, settings.tls_keyfile)
        if problem is not None:
            raise ConfigError(f"{env_name('tls_certfile')} / {env_name('tls_keyfile')}: {problem}")
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Worker processes count into files here; the listener below sums them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="zoom-ingest-metrics-")
    # In this process (uvicorn's supervisor when there are several workers): one port, one sum.
    serve_metrics(settings, metrics.registry())
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
        # Limits and timeouts: docs/hardening.md says why each value, and what uvicorn cannot bound.
        # uvicorn's default parser (httptools, as `uvicorn app:app` runs it), with the request-head
        # limit and the read deadline it lacks (receiver/protocol.py, docs/hardening.md).
        http=GuardedHttpToolsProtocol,
        # No WebSocket routes here: without this, an `Upgrade: websocket` request is handed to the
        # websockets library (its own parser, 16 MiB messages, plain-text 400/403 answers) instead
        # of being answered by the app like any other request.
        ws="none",
        # Zoom sends one event per request; keep idle connections briefly, not forever. A proxy
        # that pools connections to the receiver must close idle ones sooner than this (nginx:
        # keepalive_timeout 4s in the upstream block) or it races the close and answers Zoom 502.
        # uvicorn only arms this after a response: it is not a timeout for reading a request.
        timeout_keep_alive=5,
        # Open connections (idle and slow ones included) or running requests per worker process
        # beyond which uvicorn answers 503 (Zoom retries) instead of taking more: each request may
        # buffer up to ZOOM_INGEST_MAX_BODY_BYTES, so this bounds that memory (~512 MiB), and stays
        # below the usual 1024 open-file limit so the 503 comes before accept() fails. Legitimate
        # concurrency is a few dozen at most.
        limit_concurrency=512,
        # Connections the kernel holds for us while the event loop is busy (a burst of new
        # connections); the kernel caps it at net.core.somaxconn.
        backlog=2048,
        # Let in-flight enqueues finish on shutdown instead of dropping acknowledged work.
        timeout_graceful_shutdown=10,
        access_log=False,
        # Logging is ours (shared/logs.py), in every worker process.
        log_config=None,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )
