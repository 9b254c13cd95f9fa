"""The default pipeline (reference section 1): what every document gets, and unknown families."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from worker.transform.pipeline import FAMILIES, family_of

from .support import EVENTS_DIR, RECEIVED_AT_TEXT, bodies, body, transform

FAMILY_NAMES = sorted(FAMILIES)


def test_every_reference_body_becomes_an_event_document() -> None:
    for family in FAMILY_NAMES:
        for raw in bodies(family):
            document = transform(raw)
            assert document["event"]["kind"] == ["event"], (family, document.get("error"))
            assert document["event"]["action"] == json.loads(raw)["event"]
            assert document["observer"] == {"vendor": "Zoom", "product": "Webhook"}
            assert document["ecs"] == {"version": "8.11.0"}
            assert "object" not in document["zoom"], family  # every family renames its object


def test_each_family_has_reference_bodies() -> None:
    assert {path.name.split(".")[0] for path in Path(EVENTS_DIR).glob("*.ndjson")} == set(FAMILY_NAMES)


@pytest.mark.parametrize(
    ("action", "family"),
    [
        ("meeting.participant_jbh_waiting", "meeting"),
        ("meeting.summary_completed", "meeting"),
        ("chat_message.sent", "chat_message"),
        ("chat_channel.member_left", "chat_channel"),
        ("zoomroom.checked_out", "zoomroom"),
        ("user.tsp_created", "user"),
        ("team_chat.channel_message_posted", None),
        ("group.member_added", None),
        ("session.started", None),
        ("endpoint.url_validation", None),
        ("", None),
        (5, None),
        (None, None),
    ],
)
def test_routing_is_by_prefix_of_the_action(action: Any, family: str | None) -> None:
    found = family_of(action)
    assert (found[0] if found else None) == family


def test_event_ts_and_top_level_fields_are_dropped_and_payload_becomes_zoom() -> None:
    document = transform(
        {
            "event": "meeting.created",
            "event_ts": 1626230691572,
            "download_token": "secret",
            "payload": {"x": 1},
        }
    )

    assert document["zoom"] == {"x": 1}


def test_generic_renames_apply_to_every_family() -> None:
    document = transform(
        {
            "event": "session.user_joined",
            "payload": {
                "object": {
                    "id": "s1",
                    "participant": {"id": "p1"},
                    "settings": {"a": True},
                    "registrant": {"id": "r1"},
                },
                "old_object": {"id": "s0"},
            },
        }
    )

    assert document["zoom"] == {
        "object": {"id": "s1"},
        "participant": {"id": "p1"},
        "settings": {"a": True},
        "registrant": {"id": "r1"},
        "old_values": {"id": "s0"},
    }


def test_operator_id_makes_user_and_related_user() -> None:
    document = transform(
        {"event": "group.created", "payload": {"operator": "op@example.com", "operator_id": "op-1"}}
    )

    assert document["user"] == {"id": "op-1", "email": "op@example.com"}
    assert document["related"] == {"user": ["op-1"]}
    assert document["zoom"] == {"operator": "op@example.com", "operator_id": "op-1"}


def test_operator_without_id_makes_no_user() -> None:
    document = transform({"event": "group.created", "payload": {"operator": "op@example.com"}})

    assert "user" not in document and "related" not in document


def test_heavy_fields_are_removed() -> None:
    arrays = {name: [{"k": 1}] for name in ("occurrences", "managed_domains", "call_logs", "recording_files")}
    document = transform(
        {
            "event": "team_chat.thing",
            "payload": {
                "object": {
                    **arrays,
                    "recurrence": {"type": 1},
                    "registrant": {"id": "r", "custom_questions": [{"q": 1}]},
                },
                "old_object": {**arrays, "recurrence": {"type": 2}, "keep": 1},
            },
        }
    )

    # pruning ran before, so an object emptied here stays, as in the reference
    assert document["zoom"] == {"object": {}, "registrant": {"id": "r"}, "old_values": {"keep": 1}}


def test_nulls_and_empty_strings_are_pruned_recursively_before_renames() -> None:
    document = transform(
        {
            "event": "team_chat.thing",
            "payload": {
                "object": {
                    "keep_zero": 0,
                    "keep_false": False,
                    "drop_null": None,
                    "drop_empty": "",
                    "nested": {"only": {"empty": ""}},
                    "list": [None, "", {}, [], "x", {"a": None}],
                    "empty_list": [],
                    "participant": {"name": ""},
                },
                "operator_id": "",
            },
        }
    )

    assert document["zoom"] == {"object": {"keep_zero": 0, "keep_false": False, "list": ["x"]}}
    assert "user" not in document


@pytest.mark.parametrize(
    "action",
    ["team_chat.channel_message_posted", "group.member_added", "session.started", "app.deauthorized"],
)
def test_unknown_family_is_indexed_with_payload_under_zoom(action: str) -> None:
    payload: dict[str, Any] = {
        "account_id": "acc-1",
        "operator": "op@example.com",
        "operator_id": "op-1",
        "object": {"id": "x-1", "name": "thing", "when": "2024-01-02T03:04:05Z"},
    }

    document = transform({"event": action, "event_ts": 1, "payload": payload})

    assert document["event"]["action"] == action
    assert document["event"]["kind"] == ["event"]
    assert "type" not in document["event"] and "category" not in document["event"]
    assert document["zoom"] == payload
    assert document["user"] == {"id": "op-1", "email": "op@example.com"}
    assert document["@timestamp"] == RECEIVED_AT_TEXT


def test_body_without_event_is_kept_without_action() -> None:
    document = transform({"payload": {"object": {"id": 1}}})

    assert document["event"]["kind"] == ["event"]
    assert "action" not in document["event"]
    assert document["zoom"] == {"object": {"id": 1}}


def test_meeting_body_is_not_mutated_across_calls() -> None:
    raw = json.dumps(body("meeting", "meeting.sharing_started"))

    assert transform(raw) == transform(raw)
