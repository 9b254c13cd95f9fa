"""Every reference Zoom body through receiver -> Redis -> worker -> the real Elasticsearch node."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx2
from elasticsearch import Elasticsearch
from redis import Redis

from ops.services import ElasticsearchNode, RedisServer
from tests.support import (
    TEST_DATA,
    documents,
    leaf_mappings,
    reference_bodies,
    running,
    running_receiver,
    service_environment,
    signed_headers,
    wait_for,
)
from worker.job import document_id
from worker.template import SUBSTITUTES, field_types
from worker.transform import TransformOptions, to_document

FAMILIES = sorted(
    path.stem for path in (TEST_DATA / "events").glob("*.ndjson") if ".expected" not in path.name
)


def test_every_reference_event_is_indexed_as_transformed(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: Redis,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    bodies = [body for family in FAMILIES for body in reference_bodies(family)]
    assert len(FAMILIES) == 9 and len(bodies) == 82  # as listed in tests/data/README.md
    environment = service_environment(redis_server.url, es_node.url, namespace)
    with (
        running_receiver(environment, tmp_path / "receiver.log") as url,
        running(["worker"], environment, tmp_path / "worker.log"),
    ):
        with httpx2.Client(base_url=url) as client:
            statuses = [
                client.post("/zoom-webhook", content=body, headers=signed_headers(body)).status_code
                for body in bodies
            ]
        assert set(statuses) == {200}
        expected_ids = {document_id(body.decode()) for body in bodies}
        wait_for(lambda: len(documents(es, namespace)) >= len(expected_ids), timeout=120, what="all events")
        indexed = documents(es, namespace)
    assert not (tmp_path / "worker.log").read_text().count("Traceback")
    by_id = {doc.pop("_id"): doc for doc in indexed}
    assert set(by_id) == expected_ids
    options = TransformOptions(namespace=namespace)
    unique_bodies = {document_id(body.decode()): body for body in bodies}  # the files repeat a few
    for identity, body in unique_bodies.items():
        stored = by_id[identity]
        assert stored["event"]["kind"] == ["event"], stored.get("error")
        # @timestamp is the receive time unless the event carries one: rebuild with the same time.
        received_at = datetime.fromisoformat(stored["@timestamp"].replace("Z", "+00:00"))
        assert stored["event"].pop("ingested") >= stored["@timestamp"]
        assert stored == to_document(body, received_at, options)

    [backing] = es.indices.resolve_index(name=f"logs-zoom.webhook-{namespace}")["data_streams"][0][
        "backing_indices"
    ]
    mapped = leaf_mappings(es.indices.get_mapping(index=backing)[backing]["mappings"]["properties"])
    declared = field_types(missing=SUBSTITUTES)  # the test node's
    # No field was left to dynamic mapping: the template types everything the reference events carry.
    assert {path: kind for path, kind in mapped.items() if path not in declared} == {}
    assert all(kind == declared[path] for path, kind in mapped.items())
