"""Report records on the queue -> the worker -> their own data streams, typed by their templates
(real Redis, real Elasticsearch)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch
from redis import Redis
from rq.job import Job

from ops.services import ElasticsearchNode, RedisServer
from shared.config import Settings, load_settings
from shared.queue import SERIALIZER, event_queue
from shared.reports import STREAMS, enqueue_records
from tests.support import documents, failure_reason, leaf_mappings
from tests.worker.transform.report_support import records
from worker.batch import BatchWorker
from worker.job import document_id, transform_options
from worker.report_template import field_types
from worker.sink import Sink
from worker.template import SUBSTITUTES
from worker.transform.report import to_report_document

POLLED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(redis_server: RedisServer, es_node: ElasticsearchNode, namespace: str) -> Settings:
    return load_settings(redis_url=redis_server.url, es_hosts=es_node.url, namespace=namespace)


def enqueue(settings: Settings, redis: Redis, stream: str, lines: list[str]) -> None:
    with redis.pipeline() as pipe:
        enqueue_records(event_queue(settings, redis), settings, stream, lines, POLLED_AT, pipe)
        pipe.execute()


def test_each_stream_lands_in_its_data_stream_as_transformed(
    settings: Settings, redis: Redis, es: Elasticsearch, namespace: str
) -> None:
    sink = Sink(settings)
    sink.install_template()
    for stream in STREAMS:
        enqueue(settings, redis, stream, records(stream))
    enqueue(settings, redis, "activity", records("activity")[:2])  # polled twice: stored once
    worker = BatchWorker(settings, redis, sink, transform_options(settings))

    assert worker.run(burst=True) == 17

    options = transform_options(settings)
    for stream in STREAMS:
        stored = documents(es, namespace, f"zoom.{stream}")
        by_id = {document.pop("_id"): document for document in stored}
        assert set(by_id) == {document_id(line) for line in records(stream)}
        for line in records(stream):
            document = by_id[document_id(line)]
            assert document["event"].pop("ingested")
            assert document == to_report_document(stream, line.encode(), POLLED_AT, options)
            assert document["event"]["kind"] == "event"
    assert documents(es, namespace) == []  # nothing in the webhook data stream


@pytest.mark.parametrize("stream", STREAMS)
def test_every_field_of_the_reference_records_is_typed_by_the_template(
    stream: str, settings: Settings, redis: Redis, es: Elasticsearch, namespace: str
) -> None:
    sink = Sink(settings)
    sink.install_template()
    enqueue(settings, redis, stream, records(stream))
    BatchWorker(settings, redis, sink, transform_options(settings)).run(burst=True)

    [backing] = es.indices.resolve_index(name=f"logs-zoom.{stream}-{namespace}")["data_streams"][0][
        "backing_indices"
    ]
    mapped = leaf_mappings(es.indices.get_mapping(index=backing)[backing]["mappings"]["properties"])
    declared = field_types(stream, missing=SUBSTITUTES)  # the test node's
    assert {path: kind for path, kind in mapped.items() if path not in declared} == {}
    assert all(kind == declared[path] for path, kind in mapped.items())


def test_a_record_job_of_an_unknown_stream_fails_with_its_reason(
    settings: Settings, redis: Redis, es: Elasticsearch
) -> None:
    sink = Sink(settings)
    sink.install_template()
    enqueue(settings, redis, "webinar_report", ['{"a": 1}'])
    BatchWorker(settings, redis, sink, transform_options(settings)).run(burst=True)

    [job_id] = event_queue(settings, redis).failed_job_registry.get_job_ids()
    job = Job.fetch(job_id, connection=redis, serializer=SERIALIZER)
    assert job.meta["event"] == "report.webinar_report"
    assert "not a zoom-ingest event job (worker.job.index_record)" in failure_reason(job)
