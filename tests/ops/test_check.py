"""`zoom-ingest check` against the real redis-server and Elasticsearch nodes (security off, and the
secured one for credentials and privileges), throwaway redis-servers configured the risky ways, and
(for answers no test node can give: other versions, another product) a node behind a fault-injecting
proxy."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from redis import Redis

from ops.check_elasticsearch import template_differences
from ops.cli import main
from ops.services import ElasticsearchNode, RedisServer, free_port, wait_for_port
from shared import queue
from shared.config import load_settings
from tests.faults import FaultProxy
from tests.secured import add_user, grant
from tests.secured_node import SecuredElasticsearchNode
from tests.support import TOKEN, enqueue_event
from tests.zoom_api import OAUTH, zoom_api
from worker.sink import Sink
from worker.template import SUBSTITUTES, TEMPLATE_NAME, index_template, without_types

Results = dict[str, dict[str, str]]


@pytest.fixture
def environment(
    redis_server: RedisServer, es_node: ElasticsearchNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", redis_server.url)
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", es_node.url)
    monkeypatch.setenv("ZOOM_INGEST_SECRET_TOKENS", TOKEN)


@pytest.fixture
def template(es_node: ElasticsearchNode) -> None:
    Sink(load_settings(es_hosts=es_node.url)).install_template()


@pytest.fixture
def spare_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to reconfigure freely."""
    server = RedisServer(tmp_path / "spare-redis").start()
    yield server
    server.stop()


def check(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, Results, str]:
    code = main(["check", "--json", *arguments])
    out = capsys.readouterr().out
    return code, {result["check"]: result for result in json.loads(out)}, out


def statuses(results: Results) -> dict[str, str]:
    return {name: result["status"] for name, result in results.items()}


def test_fixtures_pass_with_one_warning_for_unbounded_redis_memory(
    environment: None, template: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, results, _ = check(capsys)
    assert code == 0
    # The fixture Redis runs as production should (AOF, noeviction) but without maxmemory: an
    # operator should hear that a growing queue can take the host's memory.
    assert {name for name, status in statuses(results).items() if status != "OK"} == {"redis maxmemory"}
    assert "ZOOM_INGEST_MAX_QUEUED=200000" in results["redis maxmemory"]["fix"]
    assert results["index template"]["detail"] == f"{TEMPLATE_NAME} matches this version"
    assert "security is off" in results["es privileges"]["detail"]
    assert results["template precedence"]["detail"].startswith(
        f"{TEMPLATE_NAME} (priority 300) applies to logs-zoom.webhook-default"
    )
    assert set(results) == {
        "configuration", "authentication", "tls", "redis", "redis version", "redis persistence",
        "redis eviction", "redis maxmemory", "queue depth", "elasticsearch", "es version",
        "es credentials", "index template", "template precedence", "es privileges",
    }  # fmt: skip

    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(results) + 1
    assert all(line.split()[0] in ("OK", "WARN", "FAIL") for line in lines[:-1])
    assert next(line for line in lines if "redis maxmemory" in line).startswith("WARN")
    assert "-> fix: set maxmemory" in next(line for line in lines if "redis maxmemory" in line)
    assert lines[-1] == f"{len(results) - 1} ok, 1 warnings, 0 failures"


def test_risky_redis_settings_warn_with_the_fix(
    environment: None,
    template: None,
    spare_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = Redis.from_url(spare_redis.url)
    client.config_set("appendonly", "no")
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", str(512 * 2**20))
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", spare_redis.url)
    code, results, _ = check(capsys)
    assert code == 0
    persistence, eviction = results["redis persistence"], results["redis eviction"]
    assert persistence["status"] == eviction["status"] == "WARN"
    assert "acknowledged events can be lost on a Redis restart" in persistence["detail"]
    assert "appendonly yes" in persistence["fix"]
    assert "allkeys-lru" in eviction["detail"] and "silently drops" in eviction["detail"]
    assert "noeviction" in eviction["fix"] and "503" in eviction["fix"]
    assert results["redis maxmemory"]["status"] == "OK"
    assert results["redis maxmemory"]["detail"].endswith("of 512 MB")

    client.config_set("maxmemory", "1")  # everything used is over the limit
    _, results, _ = check(capsys)
    assert results["redis maxmemory"]["status"] == "WARN"
    assert "the receiver answers 503" in results["redis maxmemory"]["detail"]


def start_redis(directory: Path, *arguments: str) -> tuple[subprocess.Popen[bytes], str]:
    directory.mkdir()
    port = free_port()
    binary = shutil.which("redis-server") or "redis-server"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
    process = subprocess.Popen([*command, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 20)
    return process, f"redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize(
    ("renamed", "expected"),
    [
        # Without CONFIG the same values come from INFO.
        (["CONFIG"], {"redis version": "OK", "redis persistence": "WARN", "redis maxmemory": "OK"}),
        (["INFO"], {"redis version": "WARN", "redis persistence": "WARN", "redis maxmemory": "OK"}),
        (
            ["CONFIG", "INFO"],
            {"redis version": "WARN", "redis persistence": "WARN", "redis maxmemory": "WARN"},
        ),
    ],
)
def test_managed_redis_that_forbids_config_or_info(
    renamed: list[str],
    expected: dict[str, str],
    environment: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    disabled = [argument for name in renamed for argument in ("--rename-command", name, "")]
    process, url = start_redis(tmp_path / "managed", "--maxmemory", "64mb", *disabled)
    try:
        monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", url)
        code, results, _ = check(capsys)
    finally:
        process.terminate()
        process.wait(20)
    assert code == 0
    assert {name: results[name]["status"] for name in expected} == expected
    readable = renamed != ["CONFIG", "INFO"]
    assert results["redis persistence"]["detail"].startswith(
        "appendonly no:" if readable else "could not read"
    )
    assert results["redis eviction"]["status"] == ("OK" if readable else "WARN")
    if readable:
        assert results["redis maxmemory"]["detail"].endswith("64 MB")
    assert results["queue depth"]["status"] == "OK"


def test_queue_depth_warns_near_the_limit_and_fails_at_it(
    environment: None,
    template: None,
    spare_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", spare_redis.url)
    monkeypatch.setenv("ZOOM_INGEST_MAX_QUEUED", "10")
    settings = load_settings()
    events = queue.event_queue(settings, Redis.from_url(spare_redis.url))
    for count, status in ((8, "OK"), (9, "WARN"), (10, "FAIL")):
        while events.count < count:
            body = '{"event":"meeting.started"}'
            enqueue_event(events, settings, body, "meeting.started", datetime.now(UTC))
        code, results, _ = check(capsys)
        assert results["queue depth"]["status"] == status, count
        assert results["queue depth"]["detail"].startswith(f"{count} waiting in 'zoom-webhooks'")
        assert code == (1 if status == "FAIL" else 0)
    assert "refusing events with 503" in results["queue depth"]["detail"]


def test_redis_unreachable_fails(environment: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, results, _ = check(capsys, "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert code == 1
    assert results["redis"]["status"] == "FAIL"
    assert results["redis"]["detail"].startswith("cannot reach Redis at redis://127.0.0.1:")
    assert "ZOOM_INGEST_REDIS_URL" in results["redis"]["fix"]
    assert "redis version" not in results and results["es version"]["status"] == "OK"


def test_elasticsearch_unreachable_fails(environment: None, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code, results, _ = check(capsys, "--es-hosts", f"http://127.0.0.1:{port}")
    assert code == 1
    assert results["elasticsearch"]["status"] == "FAIL"
    assert f"cannot reach http://127.0.0.1:{port}" in results["elasticsearch"]["detail"]
    assert "ZOOM_INGEST_ES_HOSTS" in results["elasticsearch"]["fix"]
    assert not {"es version", "index template"} & set(results)


def test_services_that_never_answer_fail_within_seconds(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as redis_hole, socket.socket() as es_hole:
        for hole in (redis_hole, es_hole):
            hole.bind(("127.0.0.1", 0))
            hole.listen(8)  # connections complete in the backlog and are never read
        started = time.monotonic()
        code, results, _ = check(
            capsys,
            "--redis-url", f"redis://127.0.0.1:{redis_hole.getsockname()[1]}/0",
            "--es-hosts", f"http://127.0.0.1:{es_hole.getsockname()[1]}",
        )  # fmt: skip
    assert time.monotonic() - started < 15
    assert code == 1
    assert results["redis"]["status"] == results["elasticsearch"]["status"] == "FAIL"
    assert "no answer from" in results["elasticsearch"]["detail"]


def test_outdated_template_warns_until_setup_runs(
    environment: None, es: Elasticsearch, capsys: pytest.CaptureFixture[str]
) -> None:
    outdated = without_types(index_template(), SUBSTITUTES)
    outdated["priority"] = 150
    properties = outdated["template"]["mappings"]["properties"]
    del properties["zoom"]["properties"]["meeting"]["properties"]["topic"]
    del properties["user"]["properties"]["name"]["fields"]
    properties["source"]["properties"]["ip"] = {"type": "keyword"}
    # Other tests write into data streams that use this template: overwrite it, then restore it.
    es.indices.put_index_template(name=TEMPLATE_NAME, **outdated)
    try:
        code, results, _ = check(capsys)
    finally:
        assert main(["setup"]) == 0
    capsys.readouterr()
    assert code == 0
    line = results["index template"]
    assert line["status"] == "WARN"
    assert "priority 150 (expected 300)" in line["detail"]
    assert "missing fields: user.name.text, zoom.meeting.topic" in line["detail"]
    assert "fields of another type: source.ip" in line["detail"]
    assert "zoom-ingest setup" in line["fix"]
    _, results, _ = check(capsys)
    assert results["index template"]["status"] == "OK"


def test_template_comparison_accepts_either_mapping_of_the_substituted_types() -> None:
    assert template_differences(without_types(index_template(), SUBSTITUTES), index_template()) == []
    assert template_differences(index_template(), index_template()) == []
    other = index_template()
    other["index_patterns"] = ["logs-zoom-*"]
    del other["data_stream"]
    del other["composed_of"]  # as installed before the @custom component existed
    del other["_meta"]
    del other["template"]["mappings"]["date_detection"]
    assert template_differences(other, index_template()) == [
        "index_patterns ['logs-zoom-*'] (expected ['logs-zoom.webhook-*'])",
        "composed_of None (expected ['logs-zoom.webhook@custom'])",
        "not a data stream template",
        "_meta does not say it is zoom-ingest's",
        "date_detection on (expected off)",
    ]


def test_template_precedence_names_fleets_template_and_any_that_outranks_ours(
    environment: None, template: None, es: Elasticsearch, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def install_fleets(priority: int) -> None:
        es.indices.put_index_template(
            name="logs-zoom.webhook",
            index_patterns=["logs-zoom.webhook-*"],
            data_stream={},
            priority=priority,
            meta={"managed_by": "fleet"},
        )

    install_fleets(200)
    try:
        _, results, _ = check(capsys, "--namespace", namespace)
        line = results["template precedence"]
        assert line["status"] == "OK"
        assert line["detail"] == (
            f"{TEMPLATE_NAME} (priority 300) applies to logs-zoom.webhook-{namespace}; "
            "also matching: Fleet-managed logs-zoom.webhook (priority 200)"
        )
        install_fleets(500)
        code, results, _ = check(capsys, "--namespace", namespace)
    finally:
        es.indices.delete_index_template(name="logs-zoom.webhook")
    line = results["template precedence"]
    assert code == 0 and line["status"] == "WARN"
    assert line["detail"] == (
        f"Fleet-managed logs-zoom.webhook (priority 500) applies to logs-zoom.webhook-{namespace}, "
        f"not zoom-ingest's; also matching: {TEMPLATE_NAME} (priority 300)"
    )
    assert "give logs-zoom.webhook a priority below 300" in line["fix"]


def test_authentication_lines(
    environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ZOOM_INGEST_SECRET_TOKENS")
    code, results, _ = check(capsys)
    assert code == 1
    assert results["authentication"]["status"] == "FAIL"
    assert results["authentication"]["detail"] == "none configured: the receiver refuses to start"
    assert "ZOOM_INGEST_SECRET_TOKENS" in results["authentication"]["fix"]

    monkeypatch.setenv("ZOOM_INGEST_ALLOW_UNAUTHENTICATED", "true")
    _, results, _ = check(capsys)
    assert results["authentication"]["status"] == "WARN"
    assert "anyone who finds the URL can post events" in results["authentication"]["detail"]

    monkeypatch.setenv("ZOOM_INGEST_AUTH_HEADER", "x-zoom-hook")
    monkeypatch.setenv("ZOOM_INGEST_AUTH_VALUE", "header-secret-value")
    _, results, out = check(capsys)
    assert results["authentication"] == {
        "check": "authentication", "status": "OK", "detail": "header x-zoom-hook", "fix": ""
    }  # fmt: skip
    assert "header-secret-value" not in out


def openssl_pair(directory: Path, name: str) -> tuple[Path, Path]:
    certificate, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    return certificate, key


def test_tls_files(
    environment: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate, key = openssl_pair(tmp_path, "one")
    _, other_key = openssl_pair(tmp_path, "two")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate")
    cases = [
        (certificate, key, "OK", "and its key load"),
        (certificate, other_key, "FAIL", "do not load as a pair"),
        (not_pem, key, "FAIL", "do not load as a pair"),
        (key, certificate, "FAIL", "ZOOM_INGEST_TLS_CERTFILE holds the key"),
    ]
    for certfile, keyfile, status, detail in cases:
        monkeypatch.setenv("ZOOM_INGEST_TLS_CERTFILE", str(certfile))
        monkeypatch.setenv("ZOOM_INGEST_TLS_KEYFILE", str(keyfile))
        code, results, _ = check(capsys)
        assert (results["tls"]["status"], code) == (status, 1 if status == "FAIL" else 0)
        assert detail in results["tls"]["detail"]
    assert "ZOOM_INGEST_TLS_CERTFILE" in results["tls"]["fix"]

    # A path to no file is invalid configuration: the one line, naming the setting.
    monkeypatch.setenv("ZOOM_INGEST_TLS_CERTFILE", str(tmp_path / "missing.pem"))
    code, results, _ = check(capsys)
    assert code == 1
    assert list(results) == ["configuration"]
    assert "ZOOM_INGEST_TLS_CERTFILE: no such file" in results["configuration"]["detail"]

    monkeypatch.setenv("ZOOM_INGEST_TLS_CERTFILE", str(certificate))
    monkeypatch.setenv("ZOOM_INGEST_ES_CA_CERTS", str(tmp_path / "no-ca.pem"))
    code, results, _ = check(capsys)
    assert code == 1
    assert results["es ca certs"]["status"] == "FAIL"
    assert "ZOOM_INGEST_ES_CA_CERTS" in results["es ca certs"]["fix"]


def test_geoip_databases(
    environment: None,
    maxmind_databases: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a maxmind database")
    monkeypatch.setenv("ZOOM_INGEST_GEOIP_CITY_DB", str(maxmind_databases["city"]))
    monkeypatch.setenv("ZOOM_INGEST_GEOIP_ASN_DB", str(junk))
    code, results, _ = check(capsys)
    assert code == 1
    assert results["geoip city"]["status"] == "OK" and "City" in results["geoip city"]["detail"]
    assert results["geoip asn"]["status"] == "FAIL"
    assert "ZOOM_INGEST_GEOIP_ASN_DB" in results["geoip asn"]["fix"]


def test_invalid_configuration_is_the_one_failure_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--namespace", "Bad-Name"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("FAIL  configuration  invalid configuration: ZOOM_INGEST_NAMESPACE")
    assert lines[1:] == ["0 ok, 0 warnings, 1 failures"]


def test_secrets_never_appear(
    environment: None,
    spare_redis: RedisServer,
    es_node: ElasticsearchNode,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Redis.from_url(spare_redis.url).config_set("requirepass", "redis-pass-4711")
    secrets = ["redis-pass-4711", "redis-pass-4712", "es-api-key-0815", "es-pass-2222", "zoom-token-9999"]
    secrets.append("auth-value-1234")
    monkeypatch.setenv("ZOOM_INGEST_SECRET_TOKENS", "zoom-token-9999")
    monkeypatch.setenv("ZOOM_INGEST_AUTH_HEADER", "authorization")
    monkeypatch.setenv("ZOOM_INGEST_AUTH_VALUE", "auth-value-1234")
    monkeypatch.setenv("ZOOM_INGEST_ES_API_KEY", "es-api-key-0815")  # the test node has security off
    redis_with_password = spare_redis.url.replace("redis://", "redis://:redis-pass-4711@")
    runs = [
        (["--redis-url", redis_with_password], 0),
        (["--redis-url", redis_with_password.replace("4711", "4712")], 1),  # wrong password
        (["--redis-url", spare_redis.url], 1),  # none given
        (["--es-hosts", f"http://elastic:es-pass-2222@127.0.0.1:{free_port()}"], 1),  # unreachable
    ]
    for arguments, expected in runs:
        for output in (["--json"], []):
            assert main(["check", *arguments, *output]) == expected, arguments
            out = capsys.readouterr().out
            assert [secret for secret in secrets if secret in out] == [], arguments
    monkeypatch.delenv("ZOOM_INGEST_ES_API_KEY")
    host_with_password = es_node.url.replace("http://", "http://elastic:es-pass-2222@")
    code, results, out = check(capsys, "--redis-url", redis_with_password, "--es-hosts", host_with_password)
    assert code == 0
    assert [secret for secret in secrets if secret in out] == []
    assert results["elasticsearch"]["detail"] == f"reachable at {es_node.url.replace('//', '//elastic:***@')}"
    _, results, _ = check(capsys, "--redis-url", redis_with_password)
    assert (
        results["redis"]["detail"] == f"reachable at {spare_redis.url.replace('redis://', 'redis://:***@')}"
    )
    _, results, _ = check(capsys, "--redis-url", spare_redis.url)
    assert "refused the credentials" in results["redis"]["detail"]


def test_api_key_and_username_together_are_invalid_configuration(
    environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZOOM_INGEST_ES_API_KEY", "es-api-key-0815")
    monkeypatch.setenv("ZOOM_INGEST_ES_USERNAME", "elastic")
    monkeypatch.setenv("ZOOM_INGEST_ES_PASSWORD", "es-pass-2222")
    code, results, out = check(capsys)
    assert code == 1
    assert list(results) == ["configuration"]
    assert results["configuration"]["detail"] == (
        "invalid configuration: set ZOOM_INGEST_ES_API_KEY or ZOOM_INGEST_ES_USERNAME/PASSWORD, not both"
    )
    assert "es-api-key-0815" not in out and "es-pass-2222" not in out


# Elasticsearch answers the test node cannot give: the node behind a fault-injecting proxy ------


TEMPLATES = "/_index_template$"


def proxied_check(
    capsys: pytest.CaptureFixture[str], es_node: ElasticsearchNode, **faults: Any
) -> tuple[int, Results, str, FaultProxy]:
    """Check against the test node behind a FaultProxy injecting `faults`."""
    with FaultProxy(es_node.url, **faults) as proxy:
        code, results, out = check(capsys, "--es-hosts", proxy.url)
    return code, results, out, proxy


def node_version(es: Elasticsearch) -> str:
    (node,) = es.nodes.info(filter_path="nodes.*.version")["nodes"].values()
    return str(node["version"])


def with_node_of(version: str) -> Callable[[Any], Any]:
    """Turns the node's `_nodes` answer into that of a cluster with another node, of `version`."""

    def rewrite(answer: Any) -> Any:
        return {"nodes": {**answer["nodes"], "other-node": {"version": version}}}

    return rewrite


def connect_as(
    monkeypatch: pytest.MonkeyPatch, node: SecuredElasticsearchNode, user: tuple[str, str]
) -> None:
    """`check` talks to the secured node over HTTPS as this file-realm user."""
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", node.url)
    monkeypatch.setenv("ZOOM_INGEST_ES_CA_CERTS", str(node.security.ca))
    monkeypatch.setenv("ZOOM_INGEST_ES_USERNAME", user[0])
    monkeypatch.setenv("ZOOM_INGEST_ES_PASSWORD", user[1])


def test_rejected_api_key_fails_with_the_settings_to_fix(
    environment: None,
    secured_es_node: SecuredElasticsearchNode,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", secured_es_node.url)
    monkeypatch.setenv("ZOOM_INGEST_ES_CA_CERTS", str(secured_es_node.security.ca))
    monkeypatch.setenv("ZOOM_INGEST_ES_API_KEY", "cmVqZWN0ZWQ6a2V5LTQ3MTE=")  # "rejected:key-4711"
    code, results, out = check(capsys)
    assert code == 1
    assert results["elasticsearch"]["status"] == "OK"
    assert results["es credentials"] == {
        "check": "es credentials", "status": "FAIL", "detail": "rejected (HTTP 401)",
        "fix": results["es credentials"]["fix"],
    }  # fmt: skip
    assert "ZOOM_INGEST_ES_API_KEY" in results["es credentials"]["fix"]
    assert "ZOOM_INGEST_ES_USERNAME" in results["es credentials"]["fix"]
    assert "cmVqZWN0ZWQ6a2V5LTQ3MTE=" not in out


def test_missing_privileges_on_the_secured_node(
    environment: None,
    secured_es_node: SecuredElasticsearchNode,
    secured_es: Elasticsearch,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = (f"check_{namespace}", "check-password-1")
    add_user(secured_es_node, secured_es, user, ["zoom_ingest_no_create_doc"])
    connect_as(monkeypatch, secured_es_node, user)
    code, results, _ = check(capsys)
    assert code == 1
    assert results["es credentials"]["detail"] == f"accepted: authenticated as {user[0]}"
    assert results["es privileges"]["status"] == "FAIL"
    assert results["es privileges"]["detail"] == "missing create_doc on logs-zoom.webhook-*"
    assert "create_doc and auto_configure" in results["es privileges"]["fix"]

    grant(secured_es_node, secured_es, user, "zoom_ingest_writer")
    _, results, _ = check(capsys)
    assert results["es privileges"]["status"] == "OK"


def test_with_the_poller_configured_the_report_streams_need_privileges_too(
    environment: None,
    secured_es_node: SecuredElasticsearchNode,
    secured_es: Elasticsearch,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = (f"poll_{namespace}", "check-password-2")
    add_user(secured_es_node, secured_es, user, ["zoom_ingest_writer"])  # webhooks only
    connect_as(monkeypatch, secured_es_node, user)
    monkeypatch.setenv("ZOOM_INGEST_POLL_STREAMS", "activity,operation")
    with zoom_api() as api:
        for name, value in (
            ("ZOOM_INGEST_ZOOM_API_URL", api.url),
            ("ZOOM_INGEST_ZOOM_OAUTH_URL", api.url),
            ("ZOOM_INGEST_ZOOM_ACCOUNT_ID", OAUTH["account_id"]),
            ("ZOOM_INGEST_ZOOM_CLIENT_ID", OAUTH["client_id"]),
            ("ZOOM_INGEST_ZOOM_CLIENT_SECRET", OAUTH["client_secret"]),
        ):
            monkeypatch.setenv(name, value)
        code, results, _ = check(capsys)
    assert code == 1
    assert results["es privileges"]["detail"] == (
        "missing create_doc on logs-zoom.activity-*, auto_configure on logs-zoom.activity-*, "
        "create_doc on logs-zoom.operation-*, auto_configure on logs-zoom.operation-*"
    )
    assert "logs-zoom.activity-*" in results["es privileges"]["fix"]
    assert results["zoom oauth"]["status"] == "OK"


@pytest.mark.parametrize("version", ["9.0.0", "7.17.9"])
def test_elasticsearch_other_than_8_fails(
    version: str,
    environment: None,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, results, _, _ = proxied_check(capsys, es_node, rewrite={"/_nodes": with_node_of(version)})
    assert code == 1
    assert results["es version"]["status"] == "FAIL"
    listed = ", ".join(sorted([node_version(es), version]))
    assert results["es version"]["detail"] == f"{listed}: zoom-ingest's client is pinned to 8.x"


def test_server_without_the_product_header_fails(
    environment: None, es_node: ElasticsearchNode, capsys: pytest.CaptureFixture[str]
) -> None:
    # As OpenSearch does: Elasticsearch's APIs, without its product header.
    code, results, _, proxy = proxied_check(capsys, es_node, drop_headers=["X-Elastic-Product"])
    assert code == 1
    assert results["elasticsearch"]["status"] == "FAIL"
    assert results["elasticsearch"]["detail"] == f"{proxy.url} answers without Elasticsearch's product header"
    assert "es version" not in results


def test_template_not_installed_warns(
    environment: None, es_node: ElasticsearchNode, capsys: pytest.CaptureFixture[str]
) -> None:
    # The test node has the template (other tests' data streams use it): answer as one without.
    code, results, _, _ = proxied_check(capsys, es_node, answers={TEMPLATES: (200, {"index_templates": []})})
    assert code == 0
    assert results["index template"]["status"] == "WARN"
    assert results["index template"]["detail"] == f"{TEMPLATE_NAME} is not installed"
    assert results["template precedence"]["detail"] == "no index template matches logs-zoom.webhook-default"
