"""Generated request bodies for the fuzzing (tests/receiver/fuzzing.py): JSON as json.dumps writes it,
JSON-ish text it never writes, events as Zoom sends them, and CRC challenges."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.receiver.fuzzing import MAX_BODY, OPEN_BUGS, URL_VALIDATION

EVENT_NAMES = (
    "meeting.started",
    "meeting.participant_joined",
    "recording.completed",
    "user.updated",
    "webinar.ended",
    "phone.callee_ended",
    "zoomroom.alert",
    "chat_message.sent",
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
event_values: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from((*EVENT_NAMES, URL_VALIDATION)),
    st.text(min_size=1, max_size=40),
    st.just(""),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.integers(1000, 100_000).map(lambda size: "e" * size),
)


def dumps(value: Any, ensure_ascii: bool = True) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, allow_nan=True)


@st.composite
def json_documents(draw: st.DrawFn) -> bytes:
    """JSON as json.dumps writes it: objects with or without "event", of any type, and non-objects."""
    if draw(st.integers(0, 5)) == 0:
        return dumps(draw(json_values)).encode()
    document: dict[str, Any] = draw(st.dictionaries(st.text(max_size=12), json_values, max_size=5))
    if draw(st.integers(0, 3)):
        document["event"] = draw(event_values)
    if draw(st.booleans()):
        document["payload"] = draw(json_values)
    if draw(st.booleans()):
        document["event_ts"] = draw(st.integers() | st.floats(allow_nan=True) | st.text(max_size=5))
    ensure_ascii = draw(st.booleans())
    indent = draw(st.sampled_from([None, None, 2]))
    return json.dumps(document, ensure_ascii=ensure_ascii, allow_nan=True, indent=indent).encode()


def escapes_for_text(allow_lone_surrogates: bool) -> st.SearchStrategy[str]:
    pieces = [
        "\\u0000",
        "\\u00e9",
        "\\ud83d\\ude00",
        "\\n",
        "\\/",
        "\\\\",
        '\\"',
        "\\u2028",
        "\\uFFFF",
        "plain",
        "é",
        "😀",
    ]
    if allow_lone_surrogates:
        pieces += ["\\ud800", "\\udfff", "\\ude00\\ud83d"]
    return st.lists(st.sampled_from(pieces), min_size=1, max_size=5).map("".join)


@st.composite
def json_texts(draw: st.DrawFn) -> bytes:
    """JSON-ish text json.dumps never writes: duplicate keys, NaN/Infinity, escapes, BOM, nesting,
    huge numbers, truncation, trailing garbage, invalid UTF-8."""
    event = draw(st.sampled_from((*EVENT_NAMES, URL_VALIDATION)))
    base = f'{{"event": "{event}", "event_ts": 1626230691572, "payload": {{"account_id": "acc"}}}}'
    kind = draw(
        st.sampled_from(
            [
                "duplicate-event",
                "literals",
                "escaped-event",
                "escaped-payload",
                "bom",
                "trailing",
                "truncated",
                "invalid-utf8",
                "deep",
                "big-number",
                "numbers",
                "whitespace",
                "big-string",
            ]
        )
    )
    if kind == "duplicate-event":
        first, second = dumps(draw(event_values)), dumps(draw(event_values))
        return f'{{"event": {first}, "payload": {{}}, "event": {second}}}'.encode()
    if kind == "literals":
        literal = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "nan", "inf", "undefined", "None"]))
        if draw(st.booleans()):
            return literal.encode()
        return f'{{"event": "{event}", "payload": {{"x": {literal}, "y": [{literal}]}}}}'.encode()
    if kind == "escaped-event":
        text = draw(escapes_for_text("surrogate-in-event" not in OPEN_BUGS))
        return f'{{"event": "{text}", "payload": {{}}}}'.encode()
    if kind == "escaped-payload":
        text = draw(escapes_for_text(True))
        return f'{{"event": "{event}", "payload": {{"topic": "{text}", "{text}": 1}}}}'.encode()
    if kind == "bom":
        return b"\xef\xbb\xbf" + base.encode()
    if kind == "trailing":
        return base.encode() + draw(st.sampled_from([b" x", b"}", b"\x00", b"\n{}", b",", b" // c"]))
    if kind == "truncated":
        return base.encode()[: draw(st.integers(0, len(base) - 1))]
    if kind == "invalid-utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]))
        at = draw(st.integers(0, len(base)))
        return base.encode()[:at] + bad + base.encode()[at:]
    if kind == "deep":
        limit = 200 if "deeply-nested-json" in OPEN_BUGS else 30_000
        depth = draw(st.integers(1, limit))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return f'{{"event": "{event}", "payload": {opener * depth}1{closer * depth}}}'.encode()
    if kind == "big-number":
        digits = draw(st.integers(1, 6000))
        return f'{{"event": "{event}", "payload": {{"n": 1{"0" * digits}}}}}'.encode()
    if kind == "numbers":
        number = draw(st.sampled_from(["1e999", "-0", "1.0e-400", "-1e309", "0.1e1", "01", "1.", ".5", "+1"]))
        return f'{{"event": "{event}", "payload": {{"n": {number}}}}}'.encode()
    if kind == "whitespace":
        space = draw(st.sampled_from([" ", "\t", "\n", "\r\n", "\u00a0", "\u3000"])) * draw(
            st.integers(1, 500)
        )
        return f'{space}{{{space}"event"{space}:{space}"{event}"{space}}}{space}'.encode()
    # big-string: on both sides of the body limit
    size = draw(st.integers(MAX_BODY - 200, MAX_BODY + 50))
    filler = "x" * max(0, size - 40)
    return f'{{"event": "{event}", "payload": "{filler}"}}'.encode()


@st.composite
def valid_events(draw: st.DrawFn) -> bytes:
    """Events as Zoom sends them: a non-empty string event, a payload object."""
    event = draw(
        st.sampled_from(EVENT_NAMES) | st.text(min_size=1, max_size=30).filter(lambda e: e != URL_VALIDATION)
    )
    payload = {
        "account_id": draw(st.text(max_size=20)),
        "object": draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4)),
    }
    document = {"event": event, "event_ts": draw(st.integers(0, 2**53)), "payload": payload}
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def url_validations(draw: st.DrawFn) -> bytes:
    """Zoom's CRC challenge, and broken variants of it."""
    plain_tokens: st.SearchStrategy[Any] = st.one_of(
        st.text(min_size=1, max_size=64),
        st.text(
            min_size=1,
            max_size=64,
            alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
        ),
        st.just(""),
        st.integers(),
        st.none(),
        st.lists(st.text(max_size=3), max_size=2),
    )
    payload: Any = {"plainToken": draw(plain_tokens)}
    shape = draw(
        st.sampled_from(["ok", "ok", "ok", "no-token", "payload-not-object", "no-payload", "escaped"])
    )
    if shape == "no-token":
        payload = {"plain_token": "x"}
    elif shape == "payload-not-object":
        payload = draw(json_scalars | st.lists(st.text(max_size=3), max_size=2))
    elif shape == "escaped":
        escaped = draw(escapes_for_text("surrogate-in-plain-token" not in OPEN_BUGS))
        return f'{{"event": "{URL_VALIDATION}", "payload": {{"plainToken": "{escaped}"}}}}'.encode()
    document: dict[str, Any] = {"event": URL_VALIDATION, "event_ts": 1654503849680}
    if shape != "no-payload":
        document["payload"] = payload
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()


any_body = st.one_of(
    st.binary(max_size=512),
    json_documents(),
    json_texts(),
    valid_events(),
    url_validations(),
)
