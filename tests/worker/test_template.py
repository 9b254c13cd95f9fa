"""The index template's contents, off the node (tests/worker/test_installer.py installs them)."""

from __future__ import annotations

from worker.template import field_types, index_template


def test_templates_for_other_data_streams_from_the_same_function() -> None:
    types = {"@timestamp": "date", "user.name": "keyword", "user.name.text": "match_only_text"}
    template = index_template("zoom.activity", types, description="Zoom activity logs")
    assert template["index_patterns"] == ["logs-zoom.activity-*"]
    assert template["composed_of"] == ["logs-zoom.activity@custom"]
    user_name = template["template"]["mappings"]["properties"]["user"]["properties"]["name"]
    assert user_name["fields"] == {"text": {"type": "match_only_text"}}
    assert field_types()["user.target.full_name.text"] == "match_only_text"
