"""A deadline for receiving each request, which uvicorn does not have.

uvicorn arms its keep-alive timer only after a response, so a connection that sends nothing,
trickles its headers or stalls its body is held forever; enough of them (limit_concurrency) and
every genuine request gets 503. Zoom gives up on a delivery after 3 s, so no genuine request takes
longer than the deadline here to arrive.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_READ_TIMEOUT_SECONDS = 5.0
_TIMEOUT_BODY = b'{"error":"request not received in time"}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


class ReadDeadlineH11Protocol(H11Protocol):
    """From a connection's opening (or the first byte of its next request) to a complete request:
    at most REQUEST_READ_TIMEOUT_SECONDS, else 408 (when a response can still be sent) and close."""

    read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_read_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        receiving = self.conn.their_state in (h11.IDLE, h11.SEND_BODY)
        if receiving and not self.transport.is_closing():
            if self.read_deadline is None:
                self._start_read_deadline()
        else:
            self._stop_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_read_deadline()
        super().connection_lost(exc)

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
        partial_head = self.conn.their_state is h11.IDLE and bool(self.conn.trailing_data[0])
        if partial_head or self.conn.our_state is h11.SEND_RESPONSE:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()
