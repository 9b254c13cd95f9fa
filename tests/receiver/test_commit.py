"""Group commit and overload protection, against a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from starlette.testclient import TestClient

from ops.services import RedisServer
from receiver.app import create_app
from receiver.commit import GroupCommit
from receiver.writer import EventWriter, PackedJob
from shared.config import Settings, load_settings
from shared.queue import SERIALIZER, event_queue
from tests.faults import ReplyDroppingProxy
from tests.support import (
    TOKEN,
    event_body,
    raw_request,
    running_receiver,
    send_concurrently,
    service_environment,
    signed_headers,
    wait_for,
)


def waiting(redis: Redis) -> int:
    return Queue("zoom-webhooks", connection=redis, serializer=SERIALIZER).count


def test_concurrent_requests_share_redis_transactions(
    tmp_path: Path, redis_server: RedisServer, redis: Redis
) -> None:
    environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default")
    bodies = [event_body("meeting.participant_joined", object={"id": n}) for n in range(2000)]
    requests = [raw_request("/zoom-webhook", body, signed_headers(body)) for body in bodies]
    with running_receiver(environment, tmp_path / "receiver.log") as url:
        redis.config_resetstat()
        statuses = send_concurrently(url, requests, connections=64)
        transactions = int(redis.info("commandstats")["cmdstat_exec"]["calls"])
    assert statuses == [200] * 2000
    assert waiting(redis) == 2000
    # Every event was acknowledged after its own write, yet far fewer writes than events were made.
    assert transactions < 1000


def test_full_queue_gets_503_with_retry_after_and_recovers(redis_server: RedisServer, redis: Redis) -> None:
    settings = load_settings(redis_url=redis_server.url, secret_tokens=TOKEN, max_queued=3)
    with TestClient(create_app(settings)) as client:
        for number in range(3):
            body = event_body(object={"id": number})
            assert client.post("/zoom-webhook", content=body, headers=signed_headers(body)).status_code == 200
        body = event_body(object={"id": 99})
        refused = client.post("/zoom-webhook", content=body, headers=signed_headers(body))
        assert refused.status_code == 503
        assert refused.headers["retry-after"]
        assert "retry" in refused.json()["error"]
        assert waiting(redis) == 3
        # Workers catch up; the receiver notices within a second and accepts again.
        redis.delete(Queue("zoom-webhooks", connection=redis).key)
        time.sleep(1.1)
        assert client.post("/zoom-webhook", content=body, headers=signed_headers(body)).status_code == 200
    assert waiting(redis) == 1


def commit_for(redis_server: RedisServer, redis: Redis) -> tuple[GroupCommit, EventWriter]:
    settings = load_settings(redis_url=redis_server.url, secret_tokens=TOKEN)
    writer = EventWriter(event_queue(settings, redis), settings)
    return GroupCommit(settings, writer), writer


def test_a_cancelled_request_is_still_written_with_its_group(redis_server: RedisServer, redis: Redis) -> None:
    redis.flushdb()
    commit, writer = commit_for(redis_server, redis)

    async def three_one_cancelled() -> list[object]:
        jobs = [
            writer.pack(event_body(object={"id": n}).decode(), "meeting.started", datetime.now(UTC))
            for n in range(3)
        ]
        tasks = [asyncio.create_task(commit.submit(job)) for job in jobs]
        await asyncio.sleep(0)  # all three are waiting for the write now
        tasks[1].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    outcomes = asyncio.run(three_one_cancelled())
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert waiting(redis) == 3  # a job, once in a group, is written whatever becomes of its request


def test_a_failed_write_fails_its_group_only(redis_server: RedisServer, redis: Redis) -> None:
    redis.flushdb()
    commit, writer = commit_for(redis_server, redis)

    def job() -> PackedJob:
        return writer.pack(event_body().decode(), "meeting.started", datetime.now(UTC))

    async def fail_then_recover() -> None:
        redis.set("rq:queue:zoom-webhooks", "not a list")
        group = [commit.submit(job()) for _ in range(2)]
        outcomes = await asyncio.gather(*group, return_exceptions=True)
        assert all(isinstance(outcome, RedisError) for outcome in outcomes)
        redis.delete("rq:queue:zoom-webhooks")
        await asyncio.gather(*(commit.submit(job()) for _ in range(2)))

    asyncio.run(fail_then_recover())
    assert waiting(redis) == 2
    assert commit.depth == 2


def post(client: TestClient, number: int) -> int:
    body = event_body(object={"id": number})
    return client.post("/zoom-webhook", content=body, headers=signed_headers(body)).status_code


def test_a_group_whose_reply_is_lost_is_answered_503_and_queued_once(
    redis_server: RedisServer, redis: Redis
) -> None:
    """Redis ran the transaction but its reply was lost: the sender is told to retry (it may then
    be stored twice, one document in the end); the client must not quietly run it a second time."""
    with ReplyDroppingProxy(redis_server.port) as proxy:
        settings = load_settings(redis_url=f"redis://127.0.0.1:{proxy.port}/0", secret_tokens=TOKEN)
        with TestClient(create_app(settings)) as client:
            proxy.drop_reply_to(b"EXEC")
            lost = client.post("/zoom-webhook", content=event_body(), headers=signed_headers(event_body()))
            assert lost.status_code == 503 and lost.headers["retry-after"]
            assert proxy.dropped == 1
            assert waiting(redis) == 1
            assert post(client, 2) == 200
    assert waiting(redis) == 2


@pytest.fixture
def replica(redis_server: RedisServer, redis: Redis, tmp_path: Path) -> Iterator[RedisServer]:
    """A replica of the session's redis-server, for as long as the test."""
    server = RedisServer(tmp_path / "replica", replica_of=redis_server.port).start()
    wait_for(lambda: replicas_online(redis) == 1, timeout=30, what="the replica to sync")
    yield server
    server.stop()


def replicas_online(redis: Redis) -> int:
    """Replicas past their initial sync (only those acknowledge writes)."""
    info = redis.info("replication")
    return sum(isinstance(value, dict) and value.get("state") == "online" for value in info.values())


def acknowledging(redis_url: str, replicas: int) -> Settings:
    return load_settings(
        redis_url=redis_url, secret_tokens=TOKEN, ack_replicas=replicas, ack_replicas_timeout_ms=2000
    )


def test_200_only_for_events_a_replica_holds(
    redis_server: RedisServer, redis: Redis, replica: RedisServer
) -> None:
    on_replica = Redis(port=replica.port)
    with TestClient(create_app(acknowledging(redis_server.url, 1))) as client:
        assert post(client, 1) == 200
        # No waiting here: the 200 itself means the replica has it.
        assert on_replica.llen("rq:queue:zoom-webhooks") == 1

        replica.kill()
        wait_for(lambda: replicas_online(redis) == 0, timeout=30, what="the primary to notice")
        refused = client.post("/zoom-webhook", content=event_body(), headers=signed_headers(event_body()))
        assert refused.status_code == 503
        assert refused.headers["retry-after"]
        assert "replicas" in refused.json()["error"]
        # Stored on the primary, not acknowledged: a redelivery may store it twice (one document).
        assert waiting(redis) == 2

        replica.start()
        wait_for(lambda: replicas_online(redis) == 1, timeout=30, what="the replica to resync")
        assert post(client, 3) == 200
        assert on_replica.llen("rq:queue:zoom-webhooks") == 3


def test_more_replicas_than_exist_is_always_503(
    redis_server: RedisServer, redis: Redis, replica: RedisServer
) -> None:
    with TestClient(create_app(acknowledging(redis_server.url, 2))) as client:
        assert post(client, 1) == 503


def test_one_wait_per_group(
    tmp_path: Path, redis_server: RedisServer, redis: Redis, replica: RedisServer
) -> None:
    environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default", ack_replicas="1")
    bodies = [event_body("meeting.participant_joined", object={"id": n}) for n in range(2000)]
    requests = [raw_request("/zoom-webhook", body, signed_headers(body)) for body in bodies]
    with running_receiver(environment, tmp_path / "receiver.log") as url:
        redis.config_resetstat()
        statuses = send_concurrently(url, requests, connections=64)
        stats = redis.info("commandstats")
    assert statuses == [200] * 2000
    assert Redis(port=replica.port).llen("rq:queue:zoom-webhooks") == 2000
    transactions, waits = stats["cmdstat_exec"]["calls"], stats["cmdstat_wait"]["calls"]
    assert waits == transactions < 1000
