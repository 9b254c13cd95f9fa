"""`zoom-ingest check`'s index template lines: whether the installed template is this version's,
and which template applies to the data stream."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from ops.check_elasticsearch import template_differences
from ops.cli import main
from ops.services import ElasticsearchNode
from tests.ops.checking import check, proxied_check
from worker.template import SUBSTITUTES, TEMPLATE_NAME, index_template, without_types

TEMPLATES = "/_index_template$"


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


def test_template_not_installed_warns(
    environment: None, es_node: ElasticsearchNode, capsys: pytest.CaptureFixture[str]
) -> None:
    # The test node has the template (other tests' data streams use it): answer as one without.
    code, results, _, _ = proxied_check(capsys, es_node, answers={TEMPLATES: (200, {"index_templates": []})})
    assert code == 0
    assert results["index template"]["status"] == "WARN"
    assert results["index template"]["detail"] == f"{TEMPLATE_NAME} is not installed"
    assert results["template precedence"]["detail"] == "no index template matches logs-zoom.webhook-default"
