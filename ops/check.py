"""`zoom-ingest check`: verify a deployment and say what to fix, one line per check.

Read-only, and every network call is time-boxed, so it answers within seconds even when a service
hangs. No secret (Redis password, API key, ES password, Zoom tokens, auth header value) is printed:
details never include them, and every line is scrubbed of their values before it is written.

This module runs the checks and writes the report, and holds the configuration and Redis checks; the
Elasticsearch checks are in ops.check_elasticsearch, Zoom's OAuth (for the poller) in ops.check_zoom,
the result line in ops.check_result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO

import maxminddb
from redis import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from rq import Queue

from ops.check_elasticsearch import check_elasticsearch
from ops.check_replication import check_replication
from ops.check_result import Result, fail, ok, warn
from ops.check_zoom import check_zoom
from ops.registry import REDIS_ERRORS, invalid_redis_url, redacted_url, redis_unreachable
from receiver.server import tls_problem
from shared.config import ConfigError, Settings, env_name
from shared.connection import connect
from shared.logs import redact, url_passwords

REDIS_TIMEOUT_SECONDS = 3.0
MIN_REDIS = (6, 2)  # workers claim jobs with LMOVE / BLMOVE
BYTES_PER_EVENT = 3 * 1024  # a waiting event takes roughly 2-3 KB of Redis memory
NEARLY_FULL = 0.8
MIN_SCRUBBED = 4
UNREADABLE = "could not read it: CONFIG and INFO are disabled on this server"
# check, CONFIG parameter, INFO section and field (for servers that forbid CONFIG), wanted, risk, fix
REDIS_SETTINGS = (
    ("redis persistence", "appendonly", "persistence", "aof_enabled", "yes",
     "acknowledged events can be lost on a Redis restart",
     "set appendonly yes (redis.conf, or CONFIG SET appendonly yes then CONFIG REWRITE)"),
    ("redis eviction", "maxmemory-policy", "memory", "maxmemory_policy", "noeviction",
     "an evicting policy silently drops keys when Redis is full, queued events among them",
     "set maxmemory-policy noeviction: a full Redis then refuses writes and the receiver answers 503"),
)  # fmt: skip


def run_check(load: Callable[[], Settings], *, as_json: bool, out: IO[str]) -> int:
    """Exit code: 1 when any check fails, 0 otherwise (warnings included)."""
    results, secrets = collect(load)
    results = [_redacted(result, secrets) for result in results]
    if as_json:
        out.write(json.dumps([asdict(result) for result in results], indent=2) + "\n")
    else:
        width = max(len(result.check) for result in results)
        for result in results:
            fix = f"  -> fix: {result.fix}" if result.fix else ""
            out.write(f"{result.status:<5} {result.check:<{width}}  {result.detail}{fix}\n")
        counts = [sum(result.status == status for result in results) for status in ("OK", "WARN", "FAIL")]
        out.write("{} ok, {} warnings, {} failures\n".format(*counts))
    return 1 if any(result.status == "FAIL" for result in results) else 0


def collect(load: Callable[[], Settings]) -> tuple[list[Result], list[str]]:
    """Every check's result, and the secret values no output may contain."""
    try:
        settings = load()
    except ConfigError as error:
        return [fail("configuration", str(error), "correct the settings named above")], []
    results = [ok("configuration", "settings loaded"), _authentication(settings), _tls(settings)]
    if settings.es_ca_certs is not None:
        fix = f"point {env_name('es_ca_certs')} at the cluster's CA bundle (PEM)"
        problem = _unreadable(settings.es_ca_certs)
        results.append(fail("es ca certs", problem, fix) if problem else ok("es ca certs", "readable"))
    for kind, path in (("city", settings.geoip_city_db), ("asn", settings.geoip_asn_db)):
        if path is not None:
            results.append(_geoip(kind, path))
    results += check_redis(settings)
    results += check_elasticsearch(settings)
    results += check_zoom(settings)
    return results, secrets_of(settings)


# Configuration ----------------------------------------------------------------------------------


def _authentication(settings: Settings) -> Result:
    parts = [f"{len(settings.secret_tokens)} Zoom secret token(s)"] if settings.secret_tokens else []
    if settings.auth_header:
        parts.append(f"header {settings.auth_header}")
    if parts:
        return ok("authentication", " and ".join(parts))
    fix = (
        f"set {env_name('secret_tokens')} to your Zoom app's Secret Token (and/or "
        f"{env_name('auth_header')} with {env_name('auth_value')})"
    )
    if settings.allow_unauthenticated:
        flag = env_name("allow_unauthenticated")
        return warn("authentication", f"none, {flag}=true: anyone who finds the URL can post events", fix)
    return fail("authentication", "none configured: the receiver refuses to start", fix)


def _unreadable(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None


def _tls(settings: Settings) -> Result:
    certificate, key = settings.tls_certfile, settings.tls_keyfile
    if certificate is None or key is None:
        return ok(
            "tls", "not set: the receiver serves HTTP (Zoom posts only to HTTPS: terminate TLS in front)"
        )
    problem = _unreadable(certificate) or _unreadable(key) or tls_problem(certificate, key)
    fix = (
        f"set {env_name('tls_certfile')} and {env_name('tls_keyfile')} to a PEM chain and its unencrypted key"
    )
    return fail("tls", problem, fix) if problem else ok("tls", f"{certificate} and its key load")


def _geoip(kind: str, path: Path) -> Result:
    try:
        with maxminddb.open_database(str(path)) as reader:
            return ok(f"geoip {kind}", f"{path}: {reader.metadata().database_type}")
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
        detail = f"{path}: {getattr(error, 'strerror', None) or error} (the worker enriches nothing from it)"
        return fail(f"geoip {kind}", detail, f"set {env_name(f'geoip_{kind}_db')} to a MaxMind .mmdb file")


# Redis ------------------------------------------------------------------------------------------


def check_redis(settings: Settings) -> list[Result]:
    try:
        client = connect(settings, socket_timeout=REDIS_TIMEOUT_SECONDS)  # connects within 5s
    except ValueError as error:
        fix = f"set {env_name('redis_url')} to redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS)"
        return [fail("redis", invalid_redis_url(settings, error), fix)]
    where = redacted_url(settings.redis_url)
    if settings.redis_sentinels:
        where = f"master {settings.redis_sentinel_master!r} through Sentinel"
    try:
        client.ping()
        server = list(_redis_server(client, settings))
        return [ok("redis", f"reachable at {where}"), *server, *check_replication(settings, client)]
    except AuthenticationError as error:
        fix = (
            f"put the right user and password in {env_name('redis_url')}: redis://USER:PASSWORD@HOST:PORT/DB"
        )
        return [fail("redis", f"Redis at {where} refused the credentials: {error}", fix)]
    except REDIS_ERRORS as error:
        fix = f"start Redis or point {env_name('redis_url')} (--redis-url) at it"
        if settings.redis_sentinels:
            fix = f"start Redis and the Sentinels, or correct {env_name('redis_sentinels')}"
        return [fail("redis", redis_unreachable(settings, error), fix)]
    except RedisError as error:
        fix = f"make sure {env_name('redis_url')} names a Redis server this client can use"
        return [fail("redis", f"Redis at {where} answered with an error: {error}", fix)]
    finally:
        client.close()


def _redis_setting(client: Redis, name: str, section: str, key: str) -> str | None:
    """CONFIG GET, else the same value from INFO (managed Redis often forbids CONFIG); None if neither."""
    try:
        return str(client.config_get(name)[name])
    except (ResponseError, KeyError):
        pass
    try:
        value = client.info(section)[key]
    except (ResponseError, KeyError):
        return None
    return ("yes" if str(value) == "1" else "no") if name == "appendonly" else str(value)


def _redis_server(client: Redis, settings: Settings) -> Iterator[Result]:
    try:
        version = str(client.info("server")["redis_version"])
    except (ResponseError, KeyError):
        yield warn("redis version", "could not read it (INFO is disabled)", "make sure it is 6.2 or later")
    else:
        if tuple(int(part) for part in re.findall(r"\d+", version)[:2]) < MIN_REDIS:
            yield fail("redis version", f"{version}: workers need 6.2 or later (LMOVE)", "upgrade Redis")
        else:
            yield ok("redis version", version)
    for check, name, section, key, wanted, risk, fix in REDIS_SETTINGS:
        value = _redis_setting(client, name, section, key)
        if value is None:
            yield warn(check, UNREADABLE, fix)
        else:
            yield (
                ok(check, f"{name} {value}")
                if value == wanted
                else warn(check, f"{name} {value}: {risk}", fix)
            )
    maxmemory = _redis_setting(client, "maxmemory", "memory", "maxmemory")
    fix = (
        f"set maxmemory (ZOOM_INGEST_MAX_QUEUED={settings.max_queued} waiting events take about "
        f"{settings.max_queued * BYTES_PER_EVENT >> 20} MB) so a full Redis refuses writes and the "
        "receiver answers 503, rather than the host OOM-killing Redis"
    )
    if maxmemory is None or not maxmemory.isdigit():
        yield warn("redis maxmemory", UNREADABLE, fix)
    elif maxmemory == "0":
        yield warn("redis maxmemory", "0: unbounded", fix)
    else:
        try:
            used = int(client.info("memory").get("used_memory", 0))
        except ResponseError:  # INFO disabled
            used = 0
        detail = (
            f"{used >> 20} MB used of {int(maxmemory) >> 20} MB" if used else f"{int(maxmemory) >> 20} MB"
        )
        if used > NEARLY_FULL * int(maxmemory):
            fix = "raise maxmemory, or drain the queue (more workers; see `zoom-ingest status`)"
            yield warn("redis maxmemory", detail + ": when full, the receiver answers 503", fix)
        else:
            yield ok("redis maxmemory", detail)
    depth = int(client.llen(Queue.redis_queue_namespace_prefix + settings.queue))
    detail = f"{depth} waiting in {settings.queue!r}, {env_name('max_queued')}={settings.max_queued}"
    fix = "start more workers, or find why they do not keep up (`zoom-ingest status`, worker logs)"
    if depth >= settings.max_queued:
        yield fail("queue depth", detail + ": the receiver is refusing events with 503", fix)
    elif depth > NEARLY_FULL * settings.max_queued:
        yield warn("queue depth", detail + ": nearly full, beyond it the receiver answers 503", fix)
    else:
        yield ok("queue depth", detail)


# Output -----------------------------------------------------------------------------------------


def secrets_of(settings: Settings) -> list[str]:
    values = [token.get_secret_value() for token in settings.secret_tokens]
    secret_settings = (settings.auth_value, settings.es_password, settings.es_api_key)
    values += [
        s.get_secret_value()
        for s in (*secret_settings, settings.zoom_client_secret, settings.redis_sentinel_password)
        if s
    ]
    values += url_passwords([settings.redis_url, *settings.es_hosts])
    # Shorter values would garble every line they occur in (a token "x" in "expected").
    return sorted({value for value in values if len(value) >= MIN_SCRUBBED}, key=len, reverse=True)


def _redacted(result: Result, secrets: list[str]) -> Result:
    return Result(result.check, result.status, redact(result.detail, secrets), redact(result.fix, secrets))
