"""shared/connection.py: one client policy for every process, straight or through Sentinel."""

from __future__ import annotations

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.config import ConfigError, Settings, load_settings
from shared.connection import connect, sentinel
from tests.sentinel import ReplicatedRedis
from tests.support import wait_for

MASTER = "zoom-ingest"


def through_sentinel(group: ReplicatedRedis, **overrides: object) -> Settings:
    return load_settings(redis_sentinels=group.sentinel_addresses, redis_sentinel_master=MASTER, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"redis_url": "redis://127.0.0.1:1/0"},
        {"redis_sentinels": "127.0.0.1:1,127.0.0.1:2", "redis_sentinel_master": MASTER},
    ],
    ids=["url", "sentinel"],
)
def test_no_client_retries_a_command(overrides: dict[str, str]) -> None:
    """A retried command whose first reply was lost runs twice (a claim moves a second batch the
    worker is never told of): clients must not retry, whichever way they are made."""
    client = connect(load_settings(**overrides))
    assert client.connection_pool.make_connection().retry.get_retries() == 0


def test_asking_the_sentinels_is_not_retried_either() -> None:
    settings = load_settings(redis_sentinels="127.0.0.1:1,127.0.0.1:2", redis_sentinel_master=MASTER)
    for client in sentinel(settings).sentinels:
        assert client.connection_pool.make_connection().retry.get_retries() == 0


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"redis_sentinels": "127.0.0.1:26379"}, "ZOOM_INGEST_REDIS_SENTINEL_MASTER"),
        ({"redis_sentinel_master": MASTER}, "ZOOM_INGEST_REDIS_SENTINELS"),
        ({"redis_sentinels": "sentinel-1", "redis_sentinel_master": MASTER}, "ZOOM_INGEST_REDIS_SENTINELS"),
    ],
)
def test_incomplete_sentinel_settings_are_refused(overrides: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(**overrides)


def test_the_url_gives_database_and_credentials_of_the_servers_sentinel_names(
    replicated_redis: ReplicatedRedis,
) -> None:
    primary = replicated_redis.client(replicated_redis.primary())
    primary.config_set("requirepass", "server-pass")
    try:
        settings = through_sentinel(replicated_redis, redis_url="redis://:server-pass@unused-host:1/3")
        client = connect(settings)
        client.set("where", "here")
        database_3 = Redis(port=replicated_redis.primary().port, password="server-pass", db=3)
        assert database_3.get("where") == b"here"
    finally:
        Redis(port=replicated_redis.primary().port, password="server-pass").config_set("requirepass", "")


def test_a_client_follows_a_failover_without_a_restart(replicated_redis: ReplicatedRedis) -> None:
    client = connect(through_sentinel(replicated_redis))
    client.set("before", "kept")
    replicated_redis.wait_for_replicas(2, 10)
    old = replicated_redis.primary()
    old.kill()

    def written() -> bool:
        try:
            return bool(client.set("after", "written"))
        except RedisConnectionError:
            return False

    wait_for(written, timeout=30, interval=0.1, what="a write to the promoted replica")
    new = replicated_redis.wait_for_failover(old, timeout=10)
    assert new.port != old.port
    assert client.get("before") == b"kept"
    # The old primary, restarted, is turned into a replica of the new one; the client stays put.
    old.start()
    wait_for(
        lambda: replicated_redis.client(old).info("replication")["role"] == "slave",
        timeout=30,
        what="the old primary to rejoin as a replica",
    )
    wait_for(lambda: replicated_redis.client(old).get("after") == b"written", timeout=10, what="resync")
    assert client.set("later", "still the new primary")
    assert replicated_redis.client(new).get("later") == b"still the new primary"
