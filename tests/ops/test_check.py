"""`zoom-ingest check` as a whole, against the real redis-server and Elasticsearch node: the report,
its time-box, the configuration lines (authentication, TLS, GeoIP) and that no secret is printed.
The Redis checks are in test_check_redis.py, the Elasticsearch ones in test_check_elasticsearch.py
and test_check_templates.py."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from redis import Redis

from ops.cli import main
from ops.services import ElasticsearchNode, RedisServer, free_port
from tests.ops.checking import Results, check
from worker.template import TEMPLATE_NAME


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
