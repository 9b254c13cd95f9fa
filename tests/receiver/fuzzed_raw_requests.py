"""Generated raw requests for the fuzzing through uvicorn: well-formed signed events (with
Content-Length or chunked) and malformed bytes at the HTTP parser."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.receiver.fuzzed_bodies import valid_events
from tests.receiver.fuzzing import PATH, zoom_signature
from tests.support import TOKEN


@dataclass(frozen=True)
class Raw:
    data: bytes
    signed: bool  # carries a valid signature: may be queued, so it is given time to be answered
    well_formed: bool  # a well-formed signed event: must be answered 200 and queued

    def __repr__(self) -> str:
        data = self.data if len(self.data) <= 600 else self.data[:600] + b"...(%d bytes)" % len(self.data)
        return f"Raw(signed={self.signed}, well_formed={self.well_formed}, data={data!r})"


def chunked(body: bytes, cuts: list[int], extension: bytes, trailer: bytes) -> bytes:
    points = sorted({cut % (len(body) + 1) for cut in cuts} | {0, len(body)})
    pieces = [body[start:end] for start, end in itertools.pairwise(points) if end > start]
    encoded = b"".join(b"%x%s\r\n%s\r\n" % (len(piece), extension, piece) for piece in pieces)
    return encoded + b"0\r\n" + trailer + b"\r\n"


@st.composite
def well_formed_requests(draw: st.DrawFn) -> Raw:
    body = draw(valid_events())
    stamp = str(int(time.time())).encode()
    lines = [
        b"POST " + draw(st.sampled_from([PATH.encode(), PATH.encode() + b"?a=b"])) + b" HTTP/1.1",
        b"Host: " + draw(st.sampled_from([b"127.0.0.1", b"zoom.example", b"a"])),
        b"Content-Type: " + draw(st.sampled_from([b"application/json", b"application/json; charset=utf-8"])),
        b"x-zm-request-timestamp: " + stamp,
        b"X-ZM-Signature: " + zoom_signature(TOKEN, stamp, body),
        b"User-Agent: Zoom Marketplace/1.0a",
    ]
    if draw(st.booleans()):
        lines.append(b"Connection: close")
    well_formed = True
    if draw(st.booleans()):
        cuts = draw(st.lists(st.integers(0, 10_000), max_size=4))
        extension = draw(st.sampled_from([b"", b";ext=1", b"; name=value"]))
        trailer = draw(st.sampled_from([b"", b"x-trailer: 1\r\n"]))
        lines.append(b"Transfer-Encoding: chunked")
        payload = chunked(body, cuts, extension, trailer)
        # RFC 9112 allows whitespace around a chunk extension's ";", uvicorn's parser (httptools)
        # refuses it with 400 (docs/hardening.md): still answered, not necessarily 200.
        well_formed = b" " not in extension
    else:
        lines.append(b"Content-Length: %d" % len(body))
        payload = body
    lines = [lines[0], *draw(st.permutations(lines[1:]))]
    return Raw(b"\r\n".join(lines) + b"\r\n\r\n" + payload, signed=True, well_formed=well_formed)


REQUEST_LINES = [
    b"POST /zoom-webhook HTTP/1.1",
    b"POST /zoom-webhook HTTP/1.0",
    b"post /zoom-webhook HTTP/1.1",
    b"POST /zoom-webhook HTTP/2.0",
    b"POST /zoom-webhook HTTP/1.1x",
    b"POST /zoom-webhook",
    b"POST  /zoom-webhook  HTTP/1.1",
    b"POST zoom-webhook HTTP/1.1",
    b"POST http://evil.example/zoom-webhook HTTP/1.1",
    b"POST * HTTP/1.1",
    b"CONNECT 127.0.0.1:80 HTTP/1.1",
    b"GET /healthz HTTP/1.1",
    b"GET /readyz HTTP/0.9",
    b"PRI * HTTP/2.0",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on the plain port
    b"POST /zoom-webhook%00 HTTP/1.1",
    b"POST /zoom-webhook/../zoom-webhook HTTP/1.1",
    b"POST /" + b"a" * 20_000 + b" HTTP/1.1",
    b"",
]
FRAMING_HEADERS = [
    b"Content-Length: -1",
    b"Content-Length: +5",
    b"Content-Length: 5x",
    b"Content-Length: 0x10",
    b"Content-Length: 99999999999999999999999",
    b"Content-Length: 3, 3",
    b"Content-Length:  7 ",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: chunked, gzip",
    b"Transfer-Encoding: identity",
    b"Transfer-Encoding: xchunked",
    b"Transfer-Encoding : chunked",
    b"Expect: 100-continue",
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__",
    b"X-Folded: a\r\n b",
    b"No-Colon-Here",
    b"Bad Name: x",
    b": empty-name",
    b"X-Nul: a\x00b",
    b"X-Ctl: a\x01b",
    b"X-Latin: \xe9\xff",
    b"Host: a\r\nHost: b",
    b"Content-Type: application/json\r\nContent-Type: text/plain",
    b"x-zm-signature: v0=00\r\nx-zm-signature: v0=11",
]
BODIES = [
    b"",
    b"{}",
    b"0\r\n\r\n",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhel",
    b"ffffffffffffffffffff\r\n",
    b'{"event": "meeting.started"}',
    b'{"event": "endpoint.url_validation", "payload": {"plainToken": "abc"}}',
]


@st.composite
def malformed_requests(draw: st.DrawFn) -> Raw:
    kind = draw(st.sampled_from(["assembled"] * 4 + ["mutated"] * 3 + ["bytes"]))
    if kind == "bytes":
        return Raw(draw(st.binary(min_size=1, max_size=300)), signed=False, well_formed=False)
    if kind == "mutated":
        original = draw(well_formed_requests()).data
        at = draw(st.integers(0, len(original) - 1))
        operation = draw(
            st.sampled_from(["replace", "insert", "delete", "duplicate", "truncate", "line-ending"])
        )
        if operation == "replace":
            data = original[:at] + draw(st.binary(min_size=1, max_size=4)) + original[at + 1 :]
        elif operation == "insert":
            data = original[:at] + draw(st.binary(min_size=1, max_size=8)) + original[at:]
        elif operation == "delete":
            data = original[:at] + original[at + draw(st.integers(1, 20)) :]
        elif operation == "duplicate":
            end = min(len(original), at + draw(st.integers(1, 200)))
            data = original[:end] + original[at:end] + original[end:]
        elif operation == "truncate":
            data = original[:at]
        else:
            data = original.replace(b"\r\n", draw(st.sampled_from([b"\n", b"\r", b"\n\r", b"\r\r\n"])))
        return Raw(data, signed=True, well_formed=False)
    lines = [draw(st.sampled_from(REQUEST_LINES))]
    if draw(st.integers(0, 4)):
        lines.append(b"Host: 127.0.0.1")
    lines += draw(st.lists(st.sampled_from(FRAMING_HEADERS), max_size=3))
    lines += draw(st.lists(st.binary(max_size=40).filter(lambda line: b"\r\n" not in line), max_size=2))
    body = draw(st.sampled_from(BODIES) | st.binary(max_size=64))
    if draw(st.booleans()):
        lines.append(b"Content-Length: %d" % (len(body) + draw(st.sampled_from([0, 0, 0, -1, 1, 1000]))))
    ending = draw(st.sampled_from([b"\r\n\r\n", b"\r\n\r\n", b"\n\n", b"\r\n", b""]))
    return Raw(b"\r\n".join(lines) + ending + body, signed=False, well_formed=False)


raw_requests = st.one_of(well_formed_requests(), malformed_requests(), malformed_requests())
