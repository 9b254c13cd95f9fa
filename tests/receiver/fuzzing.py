"""Generated requests against the receiver (hypothesis), with the real Redis behind it.

The volume runs in-process (starlette's TestClient against create_app, three authentication
set-ups); a smaller run sends raw bytes to a real `zoom-ingest receiver` process so that uvicorn's
HTTP parser is fuzzed too. For every request, while Redis is up:

- the answer is 2xx or 4xx, never 5xx (the one 3xx: Starlette's redirect of the webhook path with
  a trailing slash, see docs/hardening.md);
- every error body is JSON with a string "error" (through uvicorn: or uvicorn's own plain-text
  400 for bytes that are not HTTP, which never reach the app);
- a 200 to a webhook adds exactly one job, holding the raw body; any other answer adds nothing
  (queue length and Redis dbsize before and after);
- a request that fails authentication is 401 whatever its body; an authenticated, well-formed
  event is 200 and queued; the CRC challenge answers exactly {plainToken, encryptedToken}.

Size: ZOOM_INGEST_FUZZ_EXAMPLES in-process examples in total (default DEFAULT_EXAMPLES, a run of
well under a minute on 2 cores) and ZOOM_INGEST_FUZZ_RAW_BATCHES batches of raw requests. The
default run is derandomized (the same examples every time, no example database); a run with
ZOOM_INGEST_FUZZ_EXAMPLES set explores new ones each time (docs/hardening.md).

This module holds what the fuzzing modules share: the size of a run, the receivers' set-ups,
Zoom's signature and the checks of Redis and of error answers. The generated requests are in
fuzzed_bodies.py, fuzzed_requests.py and fuzzed_raw_requests.py.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass

import httpx2
import pytest
from hypothesis import HealthCheck, settings
from redis import Redis

from shared.config import Settings, load_settings
from tests.support import TOKEN

PATH = "/zoom-webhook"
QUEUE_KEY = "rq:queue:zoom-webhooks"
URL_VALIDATION = "endpoint.url_validation"
# Small, so that bodies on both sides of the limit are cheap to generate.
MAX_BODY = 64 * 1024

DEFAULT_EXAMPLES = 4000
EXAMPLES = int(os.environ.get("ZOOM_INGEST_FUZZ_EXAMPLES") or DEFAULT_EXAMPLES)
LONG_RUN = bool(os.environ.get("ZOOM_INGEST_FUZZ_EXAMPLES"))
RAW_BATCHES = int(os.environ.get("ZOOM_INGEST_FUZZ_RAW_BATCHES") or (120 if LONG_RUN else 30))

settings.register_profile(
    "zoom-ingest-fuzz",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
settings.register_profile(
    "zoom-ingest-fuzz-long", settings.get_profile("zoom-ingest-fuzz"), derandomize=False
)
PROFILE = settings.get_profile("zoom-ingest-fuzz-long" if LONG_RUN else "zoom-ingest-fuzz")


def examples(share: float) -> settings:
    return settings(PROFILE, max_examples=max(10, int(EXAMPLES * share)))


# Bugs this fuzzing found, each pinned by a strict xfail in test_fuzz_open_bugs.py. While a bug is
# listed here the generators steer clear of its inputs (so the properties hold today); once its fix
# lands, its xfail passes and fails the run (strict): delete the entry, and the fuzzing covers it
# again.
OPEN_BUGS: frozenset[str] = frozenset()


def bug_is_open(name: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(name in OPEN_BUGS, strict=True, reason=f"open bug {name}, see OPEN_BUGS")


# --- the receivers under test -------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """An authentication set-up of the receiver, and so what a genuine sender presents."""

    name: str
    tokens: tuple[str, ...]
    auth_header: str | None = None
    auth_value: str | None = None


SENDERS = (
    Sender("two tokens and a header", ("first-app-token", TOKEN), "x-zoom-shared", "s3cret-Value"),
    Sender("one token", (TOKEN,)),
    Sender("header only", (), "authorization", "Bearer abc.DEF-123"),
)


def receiver_settings(redis_url: str, sender: Sender) -> Settings:
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("ZOOM_INGEST_")]:
            patch.delenv(name)
        return load_settings(
            redis_url=redis_url,
            secret_tokens=",".join(sender.tokens),
            auth_header=sender.auth_header,
            auth_value=sender.auth_value,
            max_body_bytes=MAX_BODY,
        )


def zoom_signature(token: str, timestamp: bytes, body: bytes) -> bytes:
    """Zoom's signature, written here independently of receiver.authentication."""
    digest = hmac.new(token.encode(), b"v0:" + timestamp + b":" + body, hashlib.sha256).hexdigest()
    return b"v0=" + digest.encode()


def signed(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    return {
        "content-type": "application/json",
        "x-zm-request-timestamp": stamp,
        "x-zm-signature": zoom_signature(TOKEN, stamp.encode(), body).decode(),
    }


def queue_state(store: Redis) -> tuple[int, int]:
    with store.pipeline(transaction=False) as pipe:
        pipe.llen(QUEUE_KEY)
        pipe.dbsize()
        length, size = pipe.execute()
    return int(length), int(size)


def assert_json_error(response: httpx2.Response) -> None:
    assert response.headers.get("content-type") == "application/json", response.headers
    answer = response.json()
    assert isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"], answer
