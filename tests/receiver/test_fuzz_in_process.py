"""The fuzzing's volume, in-process: starlette's TestClient against create_app in three
authentication set-ups, every answer checked against what the receiver must answer
(tests/receiver/fuzzing.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib

import httpx2
from hypothesis import given
from hypothesis import strategies as st
from redis import Redis
from starlette.testclient import TestClient

from tests.receiver.fuzzed_bodies import json_documents, json_texts, url_validations, valid_events
from tests.receiver.fuzzed_requests import Case, cases
from tests.receiver.fuzzing import (
    MAX_BODY,
    PATH,
    QUEUE_KEY,
    URL_VALIDATION,
    assert_json_error,
    examples,
    queue_state,
)

# Keep Redis small during long runs: emptied between examples past this many jobs.
FLUSH_AT = 2000


# --- what the receiver must answer --------------------------------------------------------------


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def body_kind(body: bytes) -> tuple[str, str | None]:
    """("invalid" | "event" | "crc" | "crc-invalid" | "unsure", plainToken) for a body the
    receiver has authenticated. "unsure": an event name or plainToken that is not valid Unicode
    (a lone surrogate escape); 400 or 200 are both sound answers."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return "invalid", None
    if not isinstance(parsed, dict):
        return "invalid", None
    event = parsed.get("event")
    if not isinstance(event, str) or not event:
        return "invalid", None
    if not encodable(event):
        return "unsure", None
    if event != URL_VALIDATION:
        return "event", None
    payload = parsed.get("payload")
    plain_token = payload.get("plainToken") if isinstance(payload, dict) else None
    if not isinstance(plain_token, str) or not plain_token:
        return "crc-invalid", None
    if not encodable(plain_token):
        return "unsure", None
    return "crc", plain_token


def is_json_media_type(value: bytes | None) -> bool:
    if value is None:
        return False
    return value.decode("latin-1").split(";", 1)[0].strip().lower() == "application/json"


def header(case: Case, name: bytes) -> bytes | None:
    return next((value for key, value in case.headers if key.lower() == name), None)


def newest_job_body(store: Redis) -> str:
    job_id = store.lindex(QUEUE_KEY, -1)
    assert job_id is not None
    data = store.hget(f"rq:job:{job_id.decode()}", "data")
    assert data is not None
    raw_body, _received_at = json.loads(zlib.decompress(data))[2]
    return str(raw_body)


def crc_answer(token: str, plain_token: str) -> dict[str, str]:
    encrypted = hmac.new(token.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


def check(case: Case, clients: dict[str, TestClient], store: Redis) -> httpx2.Response:
    """Send one case and check every property; returns the response for test-specific checks."""
    before_length, before_size = queue_state(store)
    if before_length > FLUSH_AT:
        store.flushdb()
        before_length, before_size = queue_state(store)
    response = clients[case.sender.name].request(
        case.method, case.path, content=case.body, headers=case.headers, follow_redirects=False
    )
    after_length, after_size = queue_state(store)
    status = response.status_code

    assert status < 500, (status, response.content[:500])
    if 300 <= status < 400:
        assert status == 307 and case.path == f"{PATH}/", status
        assert response.headers["location"].endswith(PATH)
    if status >= 400 and case.method != "HEAD":
        assert_json_error(response)

    queued = (
        status == 200
        and case.method != "HEAD"
        and response.headers.get("content-type") == "application/json"
        and response.json() == {"status": "queued"}
    )
    if queued:
        assert after_length == before_length + 1
        assert after_size > before_size
        assert newest_job_body(store) == case.body.decode("utf-8")
    else:
        assert (after_length, after_size) == (before_length, before_size), "a refused request wrote to Redis"

    route = case.path.split("?", 1)[0]
    if route == PATH and case.method == "POST":
        expect_webhook(case, response, queued)
    elif route == PATH:
        assert status == 405
    elif route in ("/healthz", "/readyz"):
        assert status == (200 if case.method in ("GET", "HEAD") else 405)
    elif route != f"{PATH}/":
        assert status == 404
    return response


def expect_webhook(case: Case, response: httpx2.Response, queued: bool) -> None:
    status = response.status_code
    if len(case.body) > MAX_BODY:
        assert status == 413
        return
    if not case.authentic:
        assert status == 401
        return
    if not is_json_media_type(header(case, b"content-type")):
        assert status == 415
        return
    kind, plain_token = body_kind(case.body)
    if kind in ("invalid", "crc-invalid"):
        assert status == 400
    elif kind == "event":
        assert status == 200 and queued
    elif kind == "crc" and case.token is None:
        assert status == 400  # CRC without a Secret Token: nothing to answer with
    elif kind == "crc":
        assert plain_token is not None
        assert status == 200
        assert response.json() == crc_answer(case.token or "", plain_token)
    else:
        assert status == 400 or (status == 200 and queued)


# --- in-process: volume -------------------------------------------------------------------------


@examples(0.55)
@given(case=cases())
def test_any_request_gets_2xx_or_4xx_and_only_a_200_queues(
    case: Case, clients: dict[str, TestClient], store: Redis
) -> None:
    check(case, clients, store)


@examples(0.25)
@given(
    case=cases(
        bodies=st.one_of(st.binary(max_size=512), json_documents(), json_texts(), url_validations()),
        methods=st.just("POST"),
        paths=st.just(PATH),
        authentic_only=True,
    )
)
def test_correctly_signed_garbage_is_refused_and_never_queued(
    case: Case, clients: dict[str, TestClient], store: Redis
) -> None:
    check(case, clients, store)


@examples(0.12)
@given(case=cases(bodies=valid_events(), methods=st.just("POST"), paths=st.just(PATH), authentic_only=True))
def test_correctly_signed_events_are_queued(case: Case, clients: dict[str, TestClient], store: Redis) -> None:
    response = check(case, clients, store)
    assert response.status_code == 200 and response.json() == {"status": "queued"}


@examples(0.08)
@given(
    case=cases(bodies=url_validations(), methods=st.just("POST"), paths=st.just(PATH), authentic_only=True),
)
def test_url_validation_answers_exactly_plain_and_encrypted_token(
    case: Case, clients: dict[str, TestClient], store: Redis
) -> None:
    response = check(case, clients, store)
    if response.status_code == 200:
        assert set(response.json()) == {"plainToken", "encryptedToken"}
        assert case.token is not None
