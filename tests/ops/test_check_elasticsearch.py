"""`zoom-ingest check`'s Elasticsearch lines: reachability, version and product, credentials and
privileges, against the real node, the secured one, and (for answers no test node can give:
other versions, another product) the node behind a fault-injecting proxy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from ops.services import ElasticsearchNode, free_port
from tests.ops.checking import check, proxied_check
from tests.secured import add_user, grant
from tests.secured_node import SecuredElasticsearchNode
from tests.zoom_api import OAUTH, zoom_api


def test_elasticsearch_unreachable_fails(environment: None, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code, results, _ = check(capsys, "--es-hosts", f"http://127.0.0.1:{port}")
    assert code == 1
    assert results["elasticsearch"]["status"] == "FAIL"
    assert f"cannot reach http://127.0.0.1:{port}" in results["elasticsearch"]["detail"]
    assert "ZOOM_INGEST_ES_HOSTS" in results["elasticsearch"]["fix"]
    assert not {"es version", "index template"} & set(results)


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
