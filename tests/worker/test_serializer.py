"""The Elasticsearch client's JSON: orjson where it can, the same bytes as before where it cannot."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from elastic_transport import JsonSerializer as StandardJson
from elasticsearch import Elasticsearch

from ops.services import ElasticsearchNode
from shared.config import load_settings
from tests.support import reference_bodies
from worker.job import transform_options
from worker.serializer import FastJsonSerializer, FastNdjsonSerializer
from worker.sink import Sink
from worker.transform import to_document

FAMILIES = (
    "account",
    "chat_channel",
    "chat_message",
    "meeting",
    "phone",
    "recording",
    "user",
    "webinar",
    "zoomroom",
)
HUGE = 2**70  # past orjson's 64 bits; Python's json writes it


def test_reference_documents_encode_to_the_same_json() -> None:
    options = transform_options(load_settings())
    received = datetime(2026, 11, 25, tzinfo=UTC)
    documents = [
        to_document(body, received, options) for family in FAMILIES for body in reference_bodies(family)
    ]
    assert len(documents) > 50
    fast, standard = FastJsonSerializer(), StandardJson()
    for document in documents:
        assert json.loads(fast.dumps(document)) == json.loads(standard.dumps(document)) == document


def test_what_orjson_refuses_is_encoded_exactly_as_before() -> None:
    standard = StandardJson()
    for awkward in ({"zoom": {"id": HUGE}}, {"topic": "half a pair \ud800 here"}):
        assert FastJsonSerializer().dumps(awkward) == standard.dumps(awkward)
    lines = [{"create": {"_id": "a"}}, {"zoom": {"id": HUGE}}]
    expected = b"".join(standard.dumps(line) + b"\n" for line in lines)
    assert FastNdjsonSerializer().dumps(lines) == expected


def test_a_document_orjson_refuses_does_not_fail_its_batch(
    es_node: ElasticsearchNode, es: Elasticsearch, namespace: str
) -> None:
    sink = Sink(load_settings(es_hosts=es_node.url, namespace=namespace, es_retry_seconds=5))
    sink.install_template()

    def document(**zoom: object) -> dict[str, object]:
        return {"@timestamp": "2026-11-25T00:00:00.000Z", "event": {"action": "x.y"}, "zoom": zoom}

    outcomes = sink.index_many(
        [("before", document()), ("huge", document(object={"id": HUGE})), ("after", document())]
    )
    assert outcomes[0] == outcomes[2] == "created"
    # zoom.object.id is a keyword: Elasticsearch stores the number's digits.
    assert outcomes[1] == "created", outcomes[1]
    index = f"logs-zoom.webhook-{namespace}"
    es.indices.refresh(index=index)
    [hit] = es.search(index=index, query={"ids": {"values": ["huge"]}})["hits"]["hits"]
    assert hit["_source"]["zoom"]["object"]["id"] == HUGE
