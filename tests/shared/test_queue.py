"""The queue contract's keys and times, on a real redis-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis import Redis

from shared.queue import alive_key, format_received_at, inflight_key, inflight_keys, living, parse_iso_as_utc


def test_in_flight_lists_are_found_for_queue_names_with_glob_characters(redis: Redis) -> None:
    redis.flushdb()
    for queue_name, worker in (("webhooks[1]", "a"), ("webhooks*", "b"), ("webhooks1", "c"), ("web?", "d")):
        redis.rpush(inflight_key(queue_name, worker), "job")
    # An unescaped glob would also match "webhooks1" for "webhooks[1]", and everything for "webhooks*".
    assert inflight_keys(redis, "webhooks[1]") == {"a": inflight_key("webhooks[1]", "a")}
    assert inflight_keys(redis, "webhooks*") == {"b": inflight_key("webhooks*", "b")}
    assert inflight_keys(redis, "web?") == {"d": inflight_key("web?", "d")}
    assert inflight_keys(redis, "other") == {}


def test_a_worker_is_live_while_its_heartbeat_key_lasts(redis: Redis) -> None:
    redis.flushdb()
    redis.set(alive_key("beating"), 1, ex=60)
    redis.set(alive_key("stopped"), 1, ex=60)
    redis.delete(alive_key("stopped"))  # as a stopping worker does, and Redis once the TTL passes
    assert living(redis, ["beating", "stopped", "never-seen"]) == [True, False, False]
    assert living(redis, []) == []


def test_iso_text_is_read_as_utc_when_it_has_no_offset() -> None:
    assert parse_iso_as_utc("2026-11-25T10:00:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert parse_iso_as_utc(" 2026-11-25T10:00:00Z ") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert parse_iso_as_utc("2026-11-25T12:00:00+02:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_iso_as_utc("yesterday")


def test_receive_times_round_trip_in_utc() -> None:
    moment = datetime(2026, 11, 25, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    text = format_received_at(moment)
    assert text == "2026-11-25T10:00:00.000005+00:00"
    assert parse_iso_as_utc(text) == moment
