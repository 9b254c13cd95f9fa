"""Elasticsearch's reasons for refusing documents, as the real node words them: whole for the
failed registry, without the document's values for logs."""

from __future__ import annotations

from typing import Any

import pytest

from ops.services import ElasticsearchNode
from shared.config import load_settings
from worker.reasons import mask_values
from worker.sink import IndexingError, Sink

SECRET = "s3cr3t-v4lue"
# A value of the wrong type for each kind of field the template maps, and the text of it that
# Elasticsearch 8.14 quotes back in its reason.
WRONG_VALUES: list[tuple[str, Any, str]] = [
    ("zoom.meeting.duration", f"{SECRET}-minutes", SECRET),  # long: preview and "For input string"
    ("zoom.meeting.start_time", f"{SECRET} o'clock", SECRET),  # date, with a quote inside
    ("source.ip", f'"{SECRET}"', SECRET),  # ip: "'...' is not an IP string literal"
    ("zoom.recording.total_size", {"bytes": SECRET}, SECRET),  # an object where a long goes
    ("zoom.meeting.duration", [f"{SECRET}]-a", "[b"], SECRET),  # brackets inside
    ("zoom.recording.total_size", "98765432109876543210987", "98765432109876543210987"),  # out of range
    ("zoom.participant.join_time", True, "true"),  # a boolean where a date goes
    ("tags", {"a": SECRET}, SECRET),  # an object where a keyword goes
]


def nested(path: str, value: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"@timestamp": "2024-01-01T00:00:00.000Z"}
    *parents, leaf = path.split(".")
    node = document
    for parent in parents:
        node = node.setdefault(parent, {})
    node[leaf] = value
    return document


def test_every_refusal_keeps_the_value_whole_and_masks_it_for_logs(
    es_node: ElasticsearchNode, namespace: str
) -> None:
    sink = Sink(load_settings(es_hosts=es_node.url, namespace=namespace, es_retry_seconds=0))
    sink.install_template()
    documents = [(f"wrong-{n}", nested(path, value)) for n, (path, value, _) in enumerate(WRONG_VALUES)]
    outcomes = sink.index_many(documents)
    for (path, _, quoted), outcome in zip(WRONG_VALUES, outcomes, strict=True):
        assert isinstance(outcome, IndexingError) and not outcome.transient, outcome
        assert quoted in str(outcome), f"the registry's reason lost the value: {outcome}"
        assert quoted not in outcome.masked, f"a value reached the log form: {outcome.masked}"
        assert f"[{path}]" in outcome.masked  # which field, still said
        assert outcome.error_type in ("document_parsing_exception", "mapper_parsing_exception")


@pytest.mark.parametrize(
    ("reason", "masked"),
    [
        (
            "[1:97] failed to parse field [f] of type [long] in document with id 'abc'. "
            "Preview of field's value: 'it's \"x\"'",
            "[1:97] failed to parse field [f] of type [long] in document with id 'abc'. "
            "Preview of field's value: '***'",
        ),
        ('For input string: "12x"', 'For input string: "***"'),
        (
            "failed to parse date field [May 5] with format [strict_date_optional_time]",
            "failed to parse date field [***] with format [strict_date_optional_time]",
        ),
        ("Limit of total fields [220] has been exceeded", "Limit of total fields [220] has been exceeded"),
    ],
)
def test_mask_values_keeps_field_names_types_and_limits(reason: str, masked: str) -> None:
    assert mask_values(reason) == masked
