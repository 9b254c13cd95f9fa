"""Slow and abusive clients against a real `zoom-ingest receiver` process, with the uvicorn limits
receiver/server.py sets (docs/hardening.md); oversized request heads are in test_oversized_heads.py.

- Clients that trickle their headers one byte a second (slowloris), stall in the middle of a body,
  or connect and say nothing cannot stop others from being served promptly.
- They are disconnected within a bounded time (receiver/protocol.py: uvicorn itself has no timeout
  for reading a request; its keep-alive timeout only starts after a response), with a JSON 408
  where a response can still be sent.
- Idle keep-alive connections are closed after the keep-alive timeout.
- Beyond the concurrency limit new requests are refused at once with 503, and served again after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from dataclasses import dataclass

from redis import Redis

from receiver.protocol import MAX_HEAD_BYTES, GuardedHttpToolsProtocol
from tests.receiver.receiver_process import PATH, QUEUE_KEY, Receiver, post_event, read_answer
from tests.support import event_body, raw_request, signed_headers

# The read deadline is 5 s (receiver/protocol.py); the rest is slack for a loaded machine: a
# connection that has not delivered a whole request by then is closed.
READ_DEADLINE_BOUND = 10.0


# --- clients ------------------------------------------------------------------------------------


@dataclass
class Slow:
    """A client that opens a connection, sends `start`, then one byte of `trickle` per `interval`
    (nothing when `trickle` is empty) until the server closes the connection or it is stopped."""

    name: str
    start: bytes
    trickle: bytes = b""
    interval: float = 1.0
    closed_after: float | None = None  # seconds from connecting to the server closing
    received: bytes = b""

    async def run(self, port: int, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        began = time.monotonic()

        async def feed() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(self.start)
                await writer.drain()
                for byte in self.trickle:
                    await asyncio.sleep(self.interval)
                    writer.write(bytes([byte]))
                    await writer.drain()

        async def watch() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while chunk := await reader.read(65536):
                    self.received += chunk
            self.closed_after = time.monotonic() - began

        feeding, watching, stopping = (asyncio.create_task(step) for step in (feed(), watch(), stop.wait()))
        try:
            await asyncio.wait([watching, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (feeding, watching, stopping):
                task.cancel()
            writer.close()
            await asyncio.gather(feeding, watching, stopping, return_exceptions=True)


def slow_head(number: int) -> Slow:
    start = b"POST /zoom-webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    return Slow(f"head-{number}", start, trickle=b"a" * 3600)


def stalled_body(number: int) -> Slow:
    body = event_body("meeting.started", object={"id": number})
    request = raw_request(PATH, body, signed_headers(body))
    return Slow(f"stalled-body-{number}", request[: len(request) - len(body) // 2])


def slow_body(number: int) -> Slow:
    head = (
        b"POST /zoom-webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000\r\n\r\n"
    )
    return Slow(f"slow-body-{number}", head, trickle=b" " * 3600)


def silent(number: int) -> Slow:
    return Slow(f"silent-{number}", b"")


# --- the limits ---------------------------------------------------------------------------------


def test_limits_are_set_on_purpose(receiver: Receiver) -> None:
    arguments = receiver.arguments
    # The protocol with the head limit and the read deadline: uvicorn's own have neither.
    assert arguments["http"] is GuardedHttpToolsProtocol, arguments["http"]
    assert 8 * 1024 <= MAX_HEAD_BYTES <= 64 * 1024
    assert 1 <= arguments["timeout_keep_alive"] <= 15
    assert 64 <= arguments["limit_concurrency"] <= 1000
    assert arguments["backlog"] >= 128
    assert arguments["timeout_graceful_shutdown"] is not None
    assert arguments["ws"] == "none"


def test_slow_clients_do_not_keep_others_from_being_served(alive: Receiver, redis: Redis) -> None:
    slow = (
        [slow_head(number) for number in range(50)]
        + [stalled_body(number) for number in range(10)]
        + [slow_body(number) for number in range(5)]
        + [silent(number) for number in range(10)]
    )

    async def scenario() -> list[tuple[int, float]]:
        stop = asyncio.Event()
        clients = [asyncio.create_task(client.run(alive.port, stop)) for client in slow]
        await asyncio.sleep(1.5)  # all connected and trickling
        timings = []
        for number in range(20):
            started = time.monotonic()
            answer = await post_event(alive.port, number)
            timings.append((answer.status, time.monotonic() - started))
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*clients)
        return timings

    timings = asyncio.run(scenario())
    assert [status for status, _ in timings] == [200] * 20
    slowest = max(seconds for _, seconds in timings)
    assert slowest < 1.5, f"a request took {slowest:.2f}s with {len(slow)} slow connections open"
    assert redis.llen(QUEUE_KEY) == 20


def test_slow_clients_are_disconnected_within_a_bounded_time(alive: Receiver) -> None:
    slow = [slow_head(0), slow_head(1), stalled_body(0), slow_body(0), silent(0), silent(1)]

    async def scenario() -> None:
        stop = asyncio.Event()
        clients = [asyncio.create_task(client.run(alive.port, stop)) for client in slow]
        await asyncio.wait(clients, timeout=READ_DEADLINE_BOUND + 2)
        stop.set()
        await asyncio.gather(*clients)

    asyncio.run(scenario())
    held = [client.name for client in slow if client.closed_after is None]
    assert not held, f"still connected after {READ_DEADLINE_BOUND + 2:.0f}s: {held}"
    for client in slow:
        assert client.closed_after is not None and client.closed_after <= READ_DEADLINE_BOUND + 1, client
        if client.received:  # a 408 may precede the close; it is JSON like every error
            head, _, body = client.received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), client.received
            assert isinstance(json.loads(body)["error"], str)


def test_a_client_leaving_mid_body_is_not_logged_as_a_server_error(alive: Receiver) -> None:
    """uvicorn would log "Exception in ASGI application" with a traceback at ERROR for every client
    that goes away before its body is complete (anyone could produce those lines at will)."""
    before = alive.log_text().count("Exception in ASGI application")
    client = stalled_body(0)
    with socket.create_connection(("127.0.0.1", alive.port)) as connection:
        connection.sendall(client.start)
        time.sleep(0.3)
    time.sleep(1.0)
    assert alive.log_text().count("Exception in ASGI application") == before


# --- connections --------------------------------------------------------------------------------


def test_idle_keep_alive_connections_are_closed_after_the_timeout(alive: Receiver) -> None:
    timeout = alive.arguments["timeout_keep_alive"]

    async def scenario() -> float:
        body = event_body()
        reader, writer = await asyncio.open_connection("127.0.0.1", alive.port)
        try:
            writer.write(raw_request(PATH, body, signed_headers(body)))
            await writer.drain()
            assert (await read_answer(reader)).status == 200
            answered = time.monotonic()
            assert await asyncio.wait_for(reader.read(1), timeout + 5) == b""
            return time.monotonic() - answered
        finally:
            writer.close()

    closed_after = asyncio.run(scenario())
    assert timeout - 0.5 <= closed_after <= timeout + 2, closed_after


def test_beyond_the_concurrency_limit_requests_get_503_at_once_then_200_again(alive: Receiver) -> None:
    limit = alive.arguments["limit_concurrency"]
    connections: list[socket.socket] = []
    try:
        for _ in range(limit):
            connections.append(socket.create_connection(("127.0.0.1", alive.port)))
        time.sleep(0.5)  # accepted by the server
        started = time.monotonic()
        answer = asyncio.run(post_event(alive.port, 0))
        assert answer.status == 503
        assert time.monotonic() - started < 2
    finally:
        for connection in connections:
            connection.close()
    time.sleep(0.5)
    assert asyncio.run(post_event(alive.port, 1)).status == 200
