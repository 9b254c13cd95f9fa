"""`zoom-ingest check`'s replication lines, through real Sentinels to a primary with two replicas."""

from __future__ import annotations

import json

import pytest

from ops.cli import main
from ops.services import ElasticsearchNode, RedisServer, free_port
from tests.sentinel import ReplicatedRedis
from tests.support import TOKEN

Results = dict[str, dict[str, str]]


def check(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, Results]:
    code = main(["check", "--json", *arguments])
    return code, {result["check"]: result for result in json.loads(capsys.readouterr().out)}


@pytest.fixture
def environment(es_node: ElasticsearchNode, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", es_node.url)
    monkeypatch.setenv("ZOOM_INGEST_SECRET_TOKENS", TOKEN)
    return monkeypatch


def test_through_sentinel_the_primary_its_replicas_and_whether_acks_can_be_met(
    environment: pytest.MonkeyPatch, replicated_redis: ReplicatedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    group = replicated_redis
    environment.setenv("ZOOM_INGEST_REDIS_SENTINELS", group.sentinel_addresses)
    environment.setenv("ZOOM_INGEST_REDIS_SENTINEL_MASTER", group.master)
    environment.setenv("ZOOM_INGEST_ACK_REPLICAS", "2")
    primary = group.primary()
    _, results = check(capsys)
    assert results["redis"]["detail"] == "reachable at master 'zoom-ingest' through Sentinel"
    assert results["redis sentinel"]["status"] == "OK"
    assert results["redis sentinel"]["detail"] == f"3 of 3 Sentinels answer; primary 127.0.0.1:{primary.port}"
    assert results["redis replicas"]["status"] == "OK"
    assert results["redis replicas"]["detail"].startswith("2 of 2 online: 127.0.0.1:")
    assert " lag " in results["redis replicas"]["detail"]
    assert results["ack replicas"]["status"] == "OK"
    assert results["ack replicas"]["detail"] == "ZOOM_INGEST_ACK_REPLICAS=2, 2 replicas online"
    assert "min replicas to write" not in results

    group.client(primary).config_set("min-replicas-to-write", 3)
    code, results = check(capsys, "--redis-url", "redis://ignored:1/0")
    assert code == 1
    assert results["min replicas to write"]["status"] == "FAIL"
    minimum = results["min replicas to write"]["detail"]
    assert minimum == "min-replicas-to-write 3 (max lag 10s), 2 online"
    group.client(primary).config_set("min-replicas-to-write", 0)

    environment.setenv("ZOOM_INGEST_ACK_REPLICAS", "3")
    code, results = check(capsys)
    assert code == 1
    assert results["ack replicas"]["status"] == "FAIL"
    assert "503 to every event" in results["ack replicas"]["fix"]

    # A Sentinel down: still a primary, but a warning (a failover needs a majority).
    group.sentinels[0].stop()
    environment.setenv("ZOOM_INGEST_ACK_REPLICAS", "1")
    code, results = check(capsys)
    assert results["redis sentinel"]["status"] == "WARN"
    assert results["redis sentinel"]["detail"].startswith("2 of 3 Sentinels answer")


def test_no_sentinel_answering_fails_with_the_setting_to_fix(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("ZOOM_INGEST_REDIS_SENTINELS", f"127.0.0.1:{free_port()}")
    environment.setenv("ZOOM_INGEST_REDIS_SENTINEL_MASTER", "zoom-ingest")
    code, results = check(capsys)
    assert code == 1
    assert results["redis"]["status"] == "FAIL"
    assert "ZOOM_INGEST_REDIS_SENTINELS" in results["redis"]["fix"]


def test_a_lone_primary_cannot_meet_ack_replicas(
    environment: pytest.MonkeyPatch, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("ZOOM_INGEST_REDIS_URL", redis_server.url)
    _, results = check(capsys)
    assert not {"redis replicas", "ack replicas", "redis sentinel"} & set(results)
    environment.setenv("ZOOM_INGEST_ACK_REPLICAS", "1")
    code, results = check(capsys)
    assert code == 1
    assert results["redis replicas"]["detail"] == "0 of 0 online"
    assert results["ack replicas"]["status"] == "FAIL"
