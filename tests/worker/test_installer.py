"""zoom-ingest's index template next to Elastic's Zoom integration assets, on the real node: a
Fleet-like template on the same pattern, a default pipeline on the write index, and upgrades from the
name zoom-ingest used before (which is Fleet's)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from ops.services import ElasticsearchNode
from shared.config import load_settings
from worker.installer import TemplateConflict, install_templates
from worker.report_template import STREAMS, report_dataset
from worker.sink import Sink
from worker.template import (
    LEGACY_NAME,
    PRIORITY,
    SUBSTITUTES,
    TEMPLATE_NAME,
    WEBHOOK_DATASET,
    index_template,
    template_name,
    without_types,
)

# The integration's ingest pipeline as Fleet names it; never installed here, so any document it is
# applied to fails, as every event did before bulk requests bypassed default pipelines.
PACKAGE_PIPELINE = "logs-zoom.webhook-1.28.0"


def installed(es: Elasticsearch, name: str) -> dict[str, Any] | None:
    if not es.indices.exists_index_template(name=name):
        return None
    [found] = es.indices.get_index_template(name=name)["index_templates"]
    return dict(found["index_template"])


@pytest.fixture
def fleets_template(es: Elasticsearch) -> Iterator[dict[str, Any]]:
    """Installs the template Fleet's "install assets" makes, in what matters here; removed afterwards."""

    def install() -> dict[str, Any]:
        es.indices.put_index_template(
            name=LEGACY_NAME,
            index_patterns=["logs-zoom.webhook-*"],
            data_stream={},
            priority=200,
            template={"settings": {"index.default_pipeline": PACKAGE_PIPELINE}},
            meta={"managed_by": "fleet", "managed": True, "package": {"name": "zoom"}},
        )
        found = installed(es, LEGACY_NAME)
        assert found is not None
        return found

    yield {"install": install}
    if es.indices.exists_index_template(name=LEGACY_NAME):
        es.indices.delete_index_template(name=LEGACY_NAME)


def documents(start: int, count: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"doc-{n}", {"@timestamp": "2026-12-01T00:00:00.000Z", "user": {"name": f"User {n}"}})
        for n in range(start, start + count)
    ]


@pytest.mark.parametrize("fleet_first", [True, False], ids=["fleet-first", "fleet-after"])
def test_with_fleets_template_every_event_is_indexed_and_fleets_template_stays(
    fleet_first: bool,
    fleets_template: dict[str, Any],
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    sink = Sink(load_settings(es_hosts=es_node.url, namespace=namespace, es_retry_seconds=5))
    if fleet_first:
        fleets = fleets_template["install"]()
        sink.install_template()
    else:
        sink.install_template()
        fleets = fleets_template["install"]()
    sink.install_template()  # a worker restarting
    assert installed(es, LEGACY_NAME) == fleets
    assert sink.index_many(documents(0, 3)) == ["created"] * 3
    data_stream = f"logs-zoom.webhook-{namespace}"
    [write_index] = es.indices.resolve_index(name=data_stream)["data_streams"][0]["backing_indices"]
    # Ours applied (priority 300 over 200): no default pipeline, our mappings.
    settings = es.indices.get_settings(index=write_index)[write_index]["settings"]["index"]
    assert "default_pipeline" not in settings
    mapping = es.indices.get_mapping(index=write_index)[write_index]["mappings"]
    assert mapping["date_detection"] is False
    assert mapping["properties"]["user"]["properties"]["name"]["fields"]["text"]["type"] == "text"

    # Fleet updating the write index of a matching data stream, mid-stream.
    es.indices.put_settings(index=write_index, settings={"index.default_pipeline": PACKAGE_PIPELINE})
    with pytest.raises(BadRequestError, match=PACKAGE_PIPELINE):  # what any write without _none gets
        es.index(index=data_stream, op_type="create", document=documents(99, 1)[0][1])
    assert sink.index_many(documents(3, 3)) == ["created"] * 3
    es.indices.refresh(index=data_stream)
    assert es.count(index=data_stream)["count"] == 6
    assert installed(es, LEGACY_NAME) == fleets


def test_upgrade_removes_the_former_template_only_when_it_is_ours(
    fleets_template: dict[str, Any], es_node: ElasticsearchNode, es: Elasticsearch
) -> None:
    sink = Sink(load_settings(es_hosts=es_node.url))
    former = without_types(index_template(), SUBSTITUTES) | {"priority": 250}
    es.indices.put_index_template(name=LEGACY_NAME, **former)
    sink.install_template()
    assert installed(es, LEGACY_NAME) is None
    assert (installed(es, TEMPLATE_NAME) or {}).get("priority") == PRIORITY

    fleets = fleets_template["install"]()
    sink.install_template()
    assert installed(es, LEGACY_NAME) == fleets


def test_never_replaces_a_template_of_its_name_that_is_not_ours(
    es_node: ElasticsearchNode, es: Elasticsearch
) -> None:
    sink = Sink(load_settings(es_hosts=es_node.url))
    someone_elses = without_types(index_template(), SUBSTITUTES) | {"_meta": {"managed_by": "someone"}}
    es.indices.put_index_template(name=TEMPLATE_NAME, **someone_elses)
    try:
        with pytest.raises(TemplateConflict, match=r"not zoom-ingest.s \(_meta.managed_by: someone\)"):
            sink.install_template()
        assert (installed(es, TEMPLATE_NAME) or {}).get("_meta") == {"managed_by": "someone"}
    finally:
        # Others' data streams use the name: restore ours the way an operator would.
        es.indices.put_index_template(name=TEMPLATE_NAME, **without_types(index_template(), SUBSTITUTES))
    sink.install_template()


def test_a_cluster_lacking_a_mapper_is_warned_of_once_and_every_template_uses_the_stand_ins(
    es_node: ElasticsearchNode, es: Elasticsearch, caplog: pytest.LogCaptureFixture
) -> None:
    # The test node is the minimal build: no constant_keyword, match_only_text or wildcard mapper.
    with caplog.at_level(logging.WARNING, logger="zoom_ingest.worker"):
        install_templates(es)
    warnings = [record.getMessage() for record in caplog.records if "lacks the" in record.getMessage()]
    assert len(warnings) == 1, warnings
    stand_ins = "mapping constant_keyword, match_only_text, wildcard as keyword, text, keyword instead"
    assert warnings[0].endswith(stand_ins)
    for dataset in (WEBHOOK_DATASET, *(report_dataset(stream) for stream in STREAMS)):
        template = installed(es, template_name(dataset)) or {}
        properties = template["template"]["mappings"]["properties"]
        assert properties["data_stream"]["properties"]["type"]["type"] == "keyword", dataset
