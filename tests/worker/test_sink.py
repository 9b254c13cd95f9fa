"""Writing to a real Elasticsearch node: template, data stream, duplicates, retry classification."""

from __future__ import annotations

import time

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, Elasticsearch

from ops.services import ElasticsearchNode, free_port
from shared.config import load_settings
from worker.sink import IndexingError, Sink, is_transient
from worker.template import TEMPLATE_NAME


def sink_for(url: str, namespace: str, **overrides: object) -> Sink:
    return Sink(load_settings(es_hosts=url, namespace=namespace, **overrides))


def test_template_makes_a_typed_data_stream(
    es_node: ElasticsearchNode, es: Elasticsearch, namespace: str
) -> None:
    sink = sink_for(es_node.url, namespace)
    sink.install_template()
    sink.install_template()  # idempotent
    document = {
        "@timestamp": "2019-07-01T17:03:04.527Z",
        "zoom": {"meeting": {"id": 111111111}, "old_values": {"id": 5, "settings": {"a": True}}},
        "source": {"ip": "81.2.69.144", "geo": {"location": {"lat": 51.5142, "lon": -0.0931}}},
    }
    assert sink.index("doc-1", document) == "created"
    # (The test node lacks the data-streams REST module, so resolve the name instead of GET _data_stream.)
    [data_stream] = es.indices.resolve_index(name=f"logs-zoom.webhook-{namespace}")["data_streams"]
    assert es.indices.exists_index_template(name=TEMPLATE_NAME)
    [backing] = data_stream["backing_indices"]
    mapping = es.indices.get_mapping(index=backing)[backing]["mappings"]["properties"]
    assert mapping["@timestamp"]["type"] == "date"
    assert mapping["zoom"]["properties"]["meeting"]["properties"]["id"]["type"] == "keyword"
    assert mapping["source"]["properties"]["ip"]["type"] == "ip"
    assert mapping["source"]["properties"]["geo"]["properties"]["location"]["type"] == "geo_point"
    assert mapping["zoom"]["properties"]["old_values"]["type"] == "flattened"


def test_numeric_and_string_ids_share_one_keyword_field(es_node: ElasticsearchNode, namespace: str) -> None:
    sink = sink_for(es_node.url, namespace)
    sink.install_template()
    base = {"@timestamp": "2024-01-01T00:00:00.000Z"}
    assert sink.index("a", base | {"zoom": {"meeting": {"id": 6962400003}}}) == "created"
    assert sink.index("b", base | {"zoom": {"meeting": {"id": "Xy12_ab"}}}) == "created"


def test_same_id_twice_is_a_duplicate_not_an_error(es_node: ElasticsearchNode, namespace: str) -> None:
    sink = sink_for(es_node.url, namespace)
    sink.install_template()
    document = {"@timestamp": "2024-01-01T00:00:00.000Z", "event": {"action": "meeting.started"}}
    assert sink.index("same", document) == "created"
    assert sink.index("same", document) == "duplicate"


def test_mapping_error_fails_that_document_alone_without_retrying(
    es_node: ElasticsearchNode, es: Elasticsearch, namespace: str
) -> None:
    sink = sink_for(es_node.url, namespace, es_retry_seconds=60)
    sink.install_template()
    good = {"@timestamp": "2024-01-01T00:00:00.000Z", "event": {"action": "meeting.started"}}
    started = time.monotonic()
    outcomes = sink.index_many(
        [("good-1", dict(good)), ("bad", {"@timestamp": "not a date at all"}), ("good-2", dict(good))]
    )
    assert time.monotonic() - started < 30  # not retried for the minute allowed
    assert outcomes[0] == "created" and outcomes[2] == "created"
    assert isinstance(outcomes[1], IndexingError) and not outcomes[1].transient
    assert "document_parsing_exception" in str(outcomes[1]) and "@timestamp" in str(outcomes[1])
    es.indices.refresh(index=f"logs-zoom.webhook-{namespace}")
    assert es.count(index=f"logs-zoom.webhook-{namespace}")["count"] == 2
    with pytest.raises(IndexingError):
        sink.index("bad", {"@timestamp": "not a date at all"})


def test_documents_are_stamped_when_written(es_node: ElasticsearchNode, namespace: str) -> None:
    sink = sink_for(es_node.url, namespace)
    sink.install_template()
    document: dict = {"@timestamp": "2024-01-01T00:00:00.000Z"}
    sink.index("stamped", document)
    assert document["event"]["ingested"] > "2024-01-01T00:00:00.000Z"


def test_unreachable_cluster_is_retried_then_reported(namespace: str) -> None:
    sink = sink_for(f"http://user:hunter2@127.0.0.1:{free_port()}", namespace, es_retry_seconds=2)
    waits = []
    sink.while_waiting = lambda: waits.append(1)
    [outcome] = sink.index_many([("x", {"@timestamp": "2024-01-01T00:00:00.000Z"})])
    assert isinstance(outcome, IndexingError) and outcome.transient
    assert "ConnectionError" in str(outcome) and "hunter2" not in str(outcome)
    assert waits  # the worker's heartbeat ran while retrying


def _api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "localhost", 9200))
    return ApiError("error", meta, {})


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (429, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (404, False),
        (500, False),
    ],
)
def test_which_statuses_are_retried(status: int, transient: bool) -> None:
    assert is_transient(_api_error(status)) is transient


def test_a_custom_component_template_shapes_new_backing_indices(
    es_node: ElasticsearchNode, es: Elasticsearch, namespace: str
) -> None:
    es.cluster.put_component_template(
        name="logs-zoom.webhook@custom", template={"settings": {"index.refresh_interval": "7s"}}
    )
    try:
        sink = sink_for(es_node.url, namespace)
        sink.install_template()
        sink.index("with-custom", {"@timestamp": "2024-01-01T00:00:00.000Z"})
        [data_stream] = es.indices.resolve_index(name=f"logs-zoom.webhook-{namespace}")["data_streams"]
        [backing] = data_stream["backing_indices"]
        settings = es.indices.get_settings(index=backing)[backing]["settings"]["index"]
        assert settings["refresh_interval"] == "7s"
    finally:
        es.cluster.delete_component_template(name="logs-zoom.webhook@custom")
