"""The queue contract between receiver and worker: what a job holds and the keys both sides know.

A job is one webhook: the raw body text exactly as received and the time it was received. Jobs are
serialized as JSON (never pickle: a queue entry must not be able to execute code in a worker), carry
a description without any payload data, and name the worker function by its import path, so the
receiver never imports worker code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from shared.config import Settings

JOB_FUNCTION = "worker.job.index_event"
# A worker moves the job ids it is working on from the queue into its own in-flight list (one
# atomic move), so a worker killed mid-batch loses nothing: once it is no longer alive (`living`),
# any other worker moves the ids back to the queue. Key: INFLIGHT_PREFIX + "<queue>:<worker name>".
INFLIGHT_PREFIX = "zoom-ingest:inflight:"
# A worker's heartbeat keeps this key (TTL = ZOOM_INGEST_WORKER_TTL_SECONDS); once it has expired, the
# worker counts as dead (RQ's own worker key outlives it by a minute) and its in-flight list is
# returned to the queue.
ALIVE_PREFIX = "zoom-ingest:alive:"
SERIALIZER = JSONSerializer
# Kept short in job descriptions and meta: it comes from the sender.
EVENT_NAME_LIMIT = 100
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def event_queue(settings: Settings, connection: Redis) -> Queue:
    return Queue(
        settings.queue,
        connection=connection,
        serializer=SERIALIZER,
        default_timeout=settings.job_timeout_seconds,
    )


def inflight_key(queue_name: str, worker_name: str) -> str:
    return f"{INFLIGHT_PREFIX}{queue_name}:{worker_name}"


def alive_key(worker_name: str) -> str:
    return ALIVE_PREFIX + worker_name


def living(connection: Redis, worker_names: Sequence[str]) -> list[bool]:
    """Whether each worker is alive: its heartbeat key has not expired. The one definition of a
    live worker: workers return the claims of the others that are not, and `status` counts them."""
    if not worker_names:
        return []
    with connection.pipeline(transaction=False) as pipe:
        for name in worker_names:
            pipe.exists(alive_key(name))
        return [bool(found) for found in pipe.execute()]


def inflight_keys(connection: Redis, queue_name: str) -> dict[str, str]:
    """{worker name: key} of every in-flight list of this queue (glob characters in the queue name
    are matched literally)."""
    prefix = inflight_key(queue_name, "")
    keys = connection.scan_iter(match=_GLOB_SPECIAL.sub(r"\\\1", prefix) + "*", count=1000)
    found = (key.decode() if isinstance(key, bytes) else key for key in keys)
    return {key.removeprefix(prefix): key for key in sorted(found)}


def format_received_at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso_as_utc(text: str) -> datetime:
    """An aware datetime from ISO-8601 text; text without an offset is taken as UTC. Raises
    ValueError for text that is not ISO-8601."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
