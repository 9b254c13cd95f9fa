"""What the poller keeps in Redis: each stream's cursor (the date the next window starts on) and
its status (last success, next poll, last error), read by `zoom-ingest status`.

Keys: zoom-ingest:poll:cursor:<stream> (YYYY-MM-DD) and zoom-ingest:poll:status:<stream> (a hash).
Times are ISO-8601 UTC text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from redis import Redis
from redis.client import Pipeline

PREFIX = "zoom-ingest:poll:"


def cursor_key(stream: str) -> str:
    return f"{PREFIX}cursor:{stream}"


def status_key(stream: str) -> str:
    return f"{PREFIX}status:{stream}"


def read_cursor(connection: Redis, stream: str) -> date | None:
    value = connection.get(cursor_key(stream))
    return date.fromisoformat(value.decode()) if value else None


def move_cursor(pipeline: Pipeline, stream: str, to: date) -> None:
    pipeline.set(cursor_key(stream), to.isoformat())


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StreamStatus:
    stream: str
    cursor: str | None = None
    last_success_at: str | None = None
    next_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None

    def line(self) -> str:
        """activity: last successful poll at ..., next at ..., last error ..."""
        parts = [
            f"last successful poll at {self.last_success_at or 'never'}",
            f"next at {self.next_at or '-'}",
            f"cursor {self.cursor or '-'}",
        ]
        if self.last_error:
            parts.append(f"last error at {self.last_error_at}: {self.last_error}")
        return f"{self.stream}: " + ", ".join(parts)


def record_success(connection: Redis, stream: str, now: datetime, next_at: datetime) -> None:
    connection.hset(status_key(stream), mapping={"last_success_at": _text(now), "next_at": _text(next_at)})


def record_error(connection: Redis, stream: str, message: str, now: datetime, next_at: datetime) -> None:
    connection.hset(
        status_key(stream),
        mapping={"last_error": message, "last_error_at": _text(now), "next_at": _text(next_at)},
    )


def next_poll_at(connection: Redis, stream: str) -> datetime | None:
    value = connection.hget(status_key(stream), "next_at")
    return datetime.fromisoformat(value.decode()) if value else None


def read_status(connection: Redis, streams: list[str]) -> list[StreamStatus]:
    statuses = []
    for stream in streams:
        fields = {
            key.decode(): value.decode() for key, value in connection.hgetall(status_key(stream)).items()
        }
        cursor = connection.get(cursor_key(stream))
        if not fields and cursor is None:
            continue
        statuses.append(
            StreamStatus(
                stream,
                cursor.decode() if cursor else None,
                fields.get("last_success_at"),
                fields.get("next_at"),
                fields.get("last_error"),
                fields.get("last_error_at"),
            )
        )
    return statuses
