"""Generated requests for the in-process fuzzing: one of the bodies of fuzzed_bodies.py with
headers, method and path, and whether a genuine sender could have sent it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.receiver.fuzzed_bodies import any_body
from tests.receiver.fuzzing import OPEN_BUGS, PATH, SENDERS, Sender, zoom_signature
from tests.support import TOKEN

# Printable ASCII header values in-process (httpx re-encodes anything else on its way to the app);
# other bytes go through the raw-socket run.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&'*+^`|~"

ACCEPTED_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/json ; charset=UTF-8",
    "application/json;",
    "application/json; boundary=x",
)
OTHER_TYPES = (
    "text/plain",
    "text/json",
    "application/jsonp",
    "application/json-patch+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/ json",
    "",
)
content_types: st.SearchStrategy[str | None] = st.one_of(
    st.sampled_from(ACCEPTED_TYPES * 3),
    st.sampled_from(OTHER_TYPES),
    st.none(),
    HEADER_TEXT,
)


@st.composite
def timestamps(draw: st.DrawFn, now: int) -> tuple[bytes | None, bool]:
    """An x-zm-request-timestamp value (None: absent) and whether it is a fresh Unix time."""
    kinds = ["fresh"] * 6 + [
        "zero-padded",
        "expired",
        "future",
        "absent",
        "empty",
        "text",
        "non-ascii-digits",
        "negative",
        "decimal",
        "long",
        "zero",
    ]
    if "timestamp-of-310-digits-or-more" not in OPEN_BUGS:
        kinds.append("huge")
    kind = draw(st.sampled_from(kinds))
    if kind == "fresh":
        return str(now + draw(st.integers(-7000, 7000))).encode(), True
    if kind == "zero-padded":
        return ("0" * draw(st.integers(1, 2)) + str(now)).encode(), True
    if kind == "expired":
        return str(now - 7200 - draw(st.integers(100, 10**7))).encode(), False
    if kind == "future":
        return str(now + 7200 + draw(st.integers(100, 10**7))).encode(), False
    if kind == "absent":
        return None, False
    if kind == "empty":
        return b"", False
    if kind == "text":
        text = draw(HEADER_TEXT.filter(lambda value: not value.strip().isdigit()))
        return text.encode(), False
    if kind == "non-ascii-digits":
        return "١٧٩٥٥٩٨٧٧٣".encode(), False
    if kind == "negative":
        return f"-{now}".encode(), False
    if kind == "decimal":
        return f"{now}.0".encode(), False
    if kind == "long":
        return ("1" * draw(st.integers(11, 309))).encode(), False
    if kind == "zero":
        return b"0", False
    return (draw(st.sampled_from("19")) * draw(st.integers(310, 6000))).encode(), False


@st.composite
def signatures(
    draw: st.DrawFn, token: str, timestamp: bytes | None, body: bytes
) -> tuple[bytes | None, bool]:
    """An x-zm-signature value (None: absent) and whether it is the right one for this request."""
    stamp = timestamp or b""
    kind = draw(
        st.sampled_from(
            ["right"] * 8
            + ["other-body", "other-timestamp", "other-token", "upper-case", "v1", "no-prefix"]
            + ["absent", "empty", "garbage", "truncated"]
        )
    )
    right = zoom_signature(token, stamp, body)
    if kind == "right":
        return right, True
    if kind == "other-body":
        return zoom_signature(token, stamp, body + draw(st.binary(min_size=1, max_size=3))), False
    if kind == "other-timestamp":
        return zoom_signature(token, stamp + b"1", body), False
    if kind == "other-token":
        return zoom_signature("not-" + token, stamp, body), False
    if kind == "upper-case":
        return right.upper(), False
    if kind == "v1":
        return b"v1=" + right[3:], False
    if kind == "no-prefix":
        return right[3:], False
    if kind == "absent":
        return None, False
    if kind == "empty":
        return b"", False
    if kind == "truncated":
        return right[: draw(st.integers(0, len(right) - 1))], False
    return draw(HEADER_TEXT).encode(), False


@st.composite
def shared_headers(draw: st.DrawFn, sender: Sender) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The optional extra header (present, absent, wrong) and whether it is right."""
    if sender.auth_header is None or sender.auth_value is None:
        if draw(st.booleans()):
            return [(b"authorization", draw(HEADER_TEXT).encode())], True
        return [], True
    name, value = sender.auth_header.encode(), sender.auth_value
    kind = draw(
        st.sampled_from(["right"] * 6 + ["upper-case name", "absent", "wrong", "prefix", "suffix", "case"])
    )
    if kind == "right":
        return [(name, value.encode())], True
    if kind == "upper-case name":
        return [(name.upper(), value.encode())], True
    if kind == "absent":
        return [], False
    if kind == "wrong":
        wrong = draw(HEADER_TEXT.filter(lambda text: text.strip() != value))
        return [(name, wrong.encode())], False
    if kind == "prefix":
        return [(name, value[:-1].encode())], False
    if kind == "suffix":
        return [(name, value.encode() + b"x")], False
    return [(name, value.swapcase().encode())], False


RESERVED = {
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "x-zm-signature",
    "x-zm-request-timestamp",
}
noise_headers = st.lists(
    st.tuples(
        st.text(TOKEN_CHARS, min_size=1, max_size=20)
        .filter(lambda name: name not in RESERVED and name not in ("authorization", "x-zoom-shared"))
        .map(str.encode),
        HEADER_TEXT.map(str.encode),
    ),
    max_size=3,
)
methods = st.sampled_from(["POST"] * 14 + ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "FOO"])
paths = st.sampled_from(
    [PATH] * 14
    + [
        f"{PATH}?x=1",
        f"{PATH}?event=meeting.started",
        f"{PATH}/",
        "/Zoom-Webhook",
        f"{PATH}x",
        "/",
        "/healthz",
    ]
    + ["/readyz", "/metrics", "/zoom", "/zoom-webhook.json", "/favicon.ico"]
)


@dataclass(frozen=True)
class Case:
    sender: Sender
    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    authentic: bool
    token: str | None  # the configured Secret Token the signature was made with

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"...(%d bytes)" % len(self.body)
        headers = [
            (name, value if len(value) <= 100 else value[:100] + b"...") for name, value in self.headers
        ]
        return (
            f"Case(sender={self.sender.name!r}, method={self.method!r}, path={self.path!r}, "
            f"authentic={self.authentic}, headers={headers!r}, body={body!r})"
        )


@st.composite
def cases(
    draw: st.DrawFn,
    bodies: st.SearchStrategy[bytes] = any_body,
    methods: st.SearchStrategy[str] = methods,
    paths: st.SearchStrategy[str] = paths,
    authentic_only: bool = False,
) -> Case:
    sender = draw(st.sampled_from(SENDERS))
    body = draw(bodies)
    now = int(time.time())
    headers: list[tuple[bytes, bytes]] = []
    content_type = draw(st.sampled_from(ACCEPTED_TYPES) if authentic_only else content_types)
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    token = draw(st.sampled_from(sender.tokens)) if sender.tokens else None
    if authentic_only:
        stamp = str(now).encode()
        timestamp: bytes | None = stamp
        fresh = True
        signature: bytes | None = zoom_signature(token or TOKEN, stamp, body)
        signed = True
        shared = (
            [(sender.auth_header.encode(), (sender.auth_value or "").encode())] if sender.auth_header else []
        )
        shared_right = True
    else:
        timestamp, fresh = draw(timestamps(now))
        signature, signed = draw(signatures(token or TOKEN, timestamp, body))
        shared, shared_right = draw(shared_headers(sender))
    if timestamp is not None:
        headers.append((b"x-zm-request-timestamp", timestamp))
    if signature is not None:
        headers.append((b"x-zm-signature", signature))
    headers += shared
    headers += draw(noise_headers)
    headers = draw(st.permutations(headers))
    authentic = shared_right and (not sender.tokens or (fresh and signed))
    method, path = draw(methods), draw(paths)
    return Case(sender, method, path, list(headers), body, authentic, token)
