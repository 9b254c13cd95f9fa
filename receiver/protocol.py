"""uvicorn's httptools protocol with the two limits it lacks: a bound on the size of a request head,
and a deadline for receiving each request.

uvicorn's default parser (httptools, the one `uvicorn app:app` runs) reads a request head of any
size: an endless header line grows the process without bound, and httptools buffers it by repeated
concatenation (quadratic). Here a head larger than MAX_HEAD_BYTES is answered 431 (JSON) and the
connection closed, counted two ways: the raw bytes received while a head is still incomplete (an
endless or trickled head is cut off within one read of the limit), and, once a head is complete,
its request line and header fields as parsed (a big head that arrived in a single read).

uvicorn arms its keep-alive timer only after a response, so a connection that sends nothing,
trickles its head or stalls its body is held forever; enough of them (limit_concurrency) and every
genuine request gets 503. Zoom gives up on a delivery after 3 s, so no genuine request takes longer
than REQUEST_READ_TIMEOUT_SECONDS to arrive: past it, 408 (JSON, when a response can still be
sent) and close.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Request line + headers. Zoom's are about 1 KiB; a proxy adds a few forwarding headers.
MAX_HEAD_BYTES = 16 * 1024
REQUEST_READ_TIMEOUT_SECONDS = 5.0


def _json_response(status: bytes, message: str) -> bytes:
    body = json.dumps({"error": message}, separators=(",", ":")).encode()
    head = b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    return head % (status, len(body)) + body


HEAD_TOO_LARGE = _json_response(
    b"431 Request Header Fields Too Large", f"request head over {MAX_HEAD_BYTES // 1024} KiB"
)
TIMEOUT = _json_response(b"408 Request Timeout", "request not received in time")


class HeadTooLarge(Exception):
    """Raised inside the parser's callback; httptools turns it into a parser error."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """The protocol of one connection: uvicorn's, plus the head limit and the read deadline."""

    read_deadline: asyncio.TimerHandle | None = None
    # Between a request's first byte and its last (uvicorn's parser callbacks set these).
    in_request = False
    # Raw bytes received while the next (or current) request's head is incomplete.
    head_open = True
    head_bytes = 0
    # Bytes of the current read after a request's end (a pipelined request) are not in head_bytes.
    head_uncounted = False
    head_refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_read_deadline()

    def data_received(self, data: bytes) -> None:
        self.head_uncounted = False
        if self.head_open:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            self._stop_read_deadline()
            return
        if self.head_open and self.head_bytes > MAX_HEAD_BYTES:
            self._refuse_head()
            return
        # Waiting for the app's answer to a complete request: no deadline; anything else counts.
        cycle = self.cycle
        receiving = self.in_request or cycle is None or cycle.response_complete
        if not receiving:
            self._stop_read_deadline()
        elif self.read_deadline is None:
            self._start_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_read_deadline()
        super().connection_lost(exc)

    # httptools callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_request = True

    def on_headers_complete(self) -> None:
        # head_bytes bounds the head from above (it may include body bytes of the same read): the
        # usual request needs no further look.
        if self.head_bytes > MAX_HEAD_BYTES or self.head_uncounted:
            parsed = len(self.url) + 16 + sum(len(name) + len(value) + 4 for name, value in self.headers)
            if parsed > MAX_HEAD_BYTES:
                self.head_refused = True
                raise HeadTooLarge
        self.head_open = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_request = False
        # Bytes after this one in the same read belong to a pipelined request: if its head ends in
        # this read, it is measured as parsed; if not, it may exceed the limit by one read at most.
        self.head_open = True
        self.head_bytes = 0
        self.head_uncounted = True

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to any parser error, a head refused in on_headers_complete included.
        if self.head_refused:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        self.logger.warning("Request head over %d bytes refused.", MAX_HEAD_BYTES)
        self.transport.write(HEAD_TOO_LARGE)
        self.transport.close()
        self._stop_read_deadline()

    # the read deadline

    def _start_read_deadline(self) -> None:
        self.read_deadline = self.loop.call_later(REQUEST_READ_TIMEOUT_SECONDS, self._read_deadline_passed)

    def _stop_read_deadline(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None

    def _read_deadline_passed(self) -> None:
        self.read_deadline = None
        if self.transport.is_closing():
            return
        # Part of a request arrived and nothing has been answered to it yet: say why we close.
        answerable = self.in_request and (self.head_open or not self.cycle.response_started)
        if answerable:
            self.transport.write(TIMEOUT)
        self.transport.close()
