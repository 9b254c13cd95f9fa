"""The one way every process gets its Redis client: straight from ZOOM_INGEST_REDIS_URL, or, with
ZOOM_INGEST_REDIS_SENTINELS, through Redis Sentinel (redis-py's own support), so a failover is
followed without a restart: each new connection asks the Sentinels where the primary is now, and a
connection still open to a demoted primary is dropped on its first READONLY reply.

Commands are never retried by the client. A command whose reply is lost may have run: retried, a
claim (an atomic move of ids into a worker's in-flight list) would move a second set of ids that the
worker is never told of, and a group commit would queue its events twice. The callers handle a
failed command instead (the receiver answers 503, a worker returns its claims to the queue).
redis-py's defaults differ between constructors (a plain Redis() retries three times, from_url and
Sentinel pools do not), so the policy is stated here, for both paths, rather than inherited.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.connection import SSLConnection, parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from shared.config import Settings

CONNECT_TIMEOUT_SECONDS = 5.0
# Each Sentinel is asked in turn where the primary is; one that hangs must not stall the others.
SENTINEL_TIMEOUT_SECONDS = 1.0


def no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def sentinel(settings: Settings) -> Sentinel:
    """The configured Sentinels (ZOOM_INGEST_REDIS_SENTINELS must be set)."""
    options: dict[str, Any] = {
        "socket_timeout": SENTINEL_TIMEOUT_SECONDS,
        "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS,
        "retry": no_retry(),
    }
    if settings.redis_sentinel_username is not None:
        options["username"] = settings.redis_sentinel_username
    if settings.redis_sentinel_password is not None:
        options["password"] = settings.redis_sentinel_password.get_secret_value()
    return Sentinel(settings.sentinel_addresses, sentinel_kwargs=options)


def connect(settings: Settings, *, socket_timeout: float | None = 5.0) -> Redis:
    """A Redis client of the primary that fails fast instead of hanging a request while Redis is
    away. Workers, which block on the queue for a few seconds at a time, pass a longer socket_timeout.

    Raises ValueError for a ZOOM_INGEST_REDIS_URL redis-py cannot use.
    """
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "health_check_interval": 30,
        "retry": no_retry(),
    }
    if not settings.redis_sentinels:
        return Redis.from_url(settings.redis_url, **options)
    # The URL's address is not used: Sentinel names the primary. Its database, credentials and TLS
    # options (rediss://, ?ssl_...) are those of every server Sentinel may name.
    server = parse_url(settings.redis_url)
    server.pop("host", None)
    server.pop("port", None)
    if server.pop("connection_class", None) is SSLConnection:
        server["ssl"] = True
    master = settings.redis_sentinel_master
    assert master is not None  # validated with redis_sentinels
    return sentinel(settings).master_for(master, **server, **options)
