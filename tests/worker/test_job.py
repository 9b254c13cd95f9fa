"""document_id, the idempotency key: one document per event, however often Zoom delivers it."""

from __future__ import annotations

import json

from worker.job import document_id

BODY = '{"event":"meeting.started","event_ts":1626230691572,"payload":{"account_id":"a","object":{"id":1}}}'


def test_a_redelivered_event_maps_to_the_same_document_even_when_re_serialised() -> None:
    reordered = json.dumps(dict(reversed(list(json.loads(BODY).items()))), indent=2)
    assert reordered != BODY
    assert document_id(reordered) == document_id(BODY) == document_id(BODY)


def test_events_that_differ_in_any_value_are_different_documents() -> None:
    later = BODY.replace("1626230691572", "1626230691573")
    other_meeting = BODY.replace('"id":1', '"id":2')
    text_not_number = BODY.replace('"id":1', '"id":"1"')
    ids = {document_id(body) for body in (BODY, later, other_meeting, text_not_number)}
    assert len(ids) == 4


def test_a_body_that_is_not_json_still_has_a_stable_id_of_its_own() -> None:
    assert document_id("not json") == document_id("not json")
    assert document_id("not json") != document_id("not json ")
    # Text Redis stored with a lone surrogate hashes too, rather than failing the event.
    assert document_id('{"topic":"\ud83d"') == document_id('{"topic":"\ud83d"')


def test_the_id_is_usable_as_an_elasticsearch_id() -> None:
    identifier = document_id(BODY)
    # sha-256, URL-safe base64 without padding: 43 characters, no '/' '+' '='.
    assert len(identifier) == 43
    assert set(identifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
