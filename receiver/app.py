"""The receiver's ASGI application: the webhook path (receiver/webhook.py) beside a small Starlette
app for everything else (health, readiness, and the 404s and 405s around them). Metrics are not
served here but on the monitoring listener (receiver/server.py).

Redis calls run in a worker thread so the event loop keeps accepting requests while one is in flight.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from redis import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from receiver.webhook import RETRY_LATER, WebhookEndpoint
from shared.config import ConfigError, Settings, load_settings
from shared.connection import connect


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def readiness(redis: Redis) -> Any:
    async def readyz(request: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(redis.ping)
        except RedisError:
            return error_response(503, "redis unreachable", RETRY_LATER)
        return JSONResponse({"status": "ready"})

    return readyz


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail, dict(exc.headers or {}))


class Receiver:
    """Sends the webhook path straight to its endpoint, and the rest (lifespan included) to Starlette."""

    def __init__(self, webhook_path: str, webhook: ASGIApp, others: Starlette) -> None:
        self.webhook_path = webhook_path
        self.webhook = webhook
        self.others = others

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.webhook_path:
            await self.webhook(scope, receive, send)
        else:
            await self.others(scope, receive, send)


def create_app(settings: Settings | None = None, redis: Redis | None = None) -> Receiver:
    settings = settings or load_settings()
    if not settings.authentication_configured and not settings.allow_unauthenticated:
        raise ConfigError(
            "no authentication configured: set ZOOM_INGEST_SECRET_TOKENS (and/or ZOOM_INGEST_AUTH_HEADER"
            " with ZOOM_INGEST_AUTH_VALUE), or ZOOM_INGEST_ALLOW_UNAUTHENTICATED=true to accept anyone"
        )
    redis = redis or connect(settings)
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readiness(redis), methods=["GET"]),
    ]
    others = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    # Starlette would answer "/zoom-webhook/" with a redirect built from the client's Host header.
    others.router.redirect_slashes = False
    return Receiver(settings.webhook_path, WebhookEndpoint(settings, redis), others)
