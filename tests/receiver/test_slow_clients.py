"""Slow and abusive clients against a real `zoom-ingest receiver` process, with the uvicorn limits
receiver/server.py sets (docs/hardening.md).

- Clients that trickle their headers one byte a second (slowloris), stall in the middle of a body,
  or connect and say nothing cannot stop others from being served promptly.
- They are disconnected within a bounded time (receiver/protocol.py: uvicorn itself has no timeout
  for reading a request; its keep-alive timeout only starts after a response), with a JSON 408
  where a response can still be sent.
- Oversized request heads are refused (JSON 431, or the connection is closed), an endless header
  is cut off, while a generous but sane head is served.
- Idle keep-alive connections are closed after the keep-alive timeout.
- Beyond the concurrency limit new requests are refused at once with 503, and served again after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from redis import Redis

from ops.services import RedisServer, free_port, wait_for_port
from receiver import server
from receiver.protocol import MAX_HEAD_BYTES, GuardedHttpToolsProtocol
from shared.config import load_settings
from tests.support import TOKEN, event_body, raw_request, running, service_environment, signed_headers

PATH = "/zoom-webhook"
QUEUE_KEY = "rq:queue:zoom-webhooks"
# The read deadline is 5 s (receiver/protocol.py); the rest is slack for a loaded machine: a
# connection that has not delivered a whole request by then is closed.
READ_DEADLINE_BOUND = 10.0


def uvicorn_arguments(redis_url: str) -> dict[str, Any]:
    """The keyword arguments receiver.server.serve gives uvicorn.run."""
    captured: dict[str, Any] = {}

    def capture(*args: Any, **kwargs: Any) -> None:
        captured.update(kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(uvicorn, "run", capture)
        server.serve(load_settings(redis_url=redis_url, secret_tokens=TOKEN))
    return captured


@dataclass
class Receiver:
    port: int
    process: Any
    log: Path
    arguments: dict[str, Any] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Receiver]:
    port = free_port()
    environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default")
    log = tmp_path_factory.mktemp("slow-clients") / "receiver.log"
    with running(["receiver", "--port", str(port)], environment, log) as process:
        wait_for_port(port, 30)
        yield Receiver(port, process, log, uvicorn_arguments(redis_server.url))
    assert process.returncode in (0, -15), (
        f"receiver ended with {process.returncode}: {log.read_text()[-3000:]}"
    )


@pytest.fixture
def alive(receiver: Receiver, redis: Redis) -> Iterator[Receiver]:
    """The receiver, checked alive and serving after the test (the queue is emptied before)."""
    yield receiver
    assert receiver.process.poll() is None
    assert asyncio.run(post_event(receiver.port, 99)).status == 200


# --- clients ------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed without an answer")
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
    return Answer(int(status_line.split()[1]), headers, body)


async def post_event(port: int, number: int) -> Answer:
    """One signed event on a fresh connection."""
    body = event_body("meeting.started", object={"id": number})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw_request(PATH, body, signed_headers(body)))
        await writer.drain()
        return await asyncio.wait_for(read_answer(reader), 10)
    finally:
        writer.close()


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


# --- heads --------------------------------------------------------------------------------------


def send_in_pieces(port: int, request: bytes, piece: int = 1024) -> tuple[int, bytes]:
    """Send a request piece by piece (as a slow or streaming client does: the server sees its head
    incomplete for a while) and read until the server closes; returns (bytes sent before the
    server stopped us, what it answered)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        with contextlib.suppress(OSError):
            for start in range(0, len(request), piece):
                connection.sendall(request[start : start + piece])
                sent += len(request[start : start + piece])
                time.sleep(0.001)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
    return sent, answer


def refused(answer: bytes) -> bool:
    """The server said no to the head: a JSON 431, or closed (a client still sending when the server
    closes may get a reset instead of the answer)."""
    if answer == b"":
        return True
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.startswith(b"HTTP/1.1 431 ") and isinstance(json.loads(body)["error"], str)


def test_oversized_heads_are_refused(alive: Receiver, redis: Redis) -> None:
    body = event_body()
    signed = raw_request(PATH, body, signed_headers(body)).split(b"\r\n\r\n")[0]
    one_big_header = signed + b"\r\nX-Big: " + b"a" * 64 * 1024 + b"\r\n\r\n" + body
    many_headers = signed + b"".join(b"\r\nX-H%d: %d" % (n, n) for n in range(3000)) + b"\r\n\r\n" + body
    long_target = b"POST /" + b"a" * 64 * 1024 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    for head in (one_big_header, many_headers, long_target):
        _, answer = send_in_pieces(alive.port, head)
        assert refused(answer), answer[:200]
    assert redis.llen(QUEUE_KEY) == 0


def test_an_oversized_head_sent_at_once_is_refused(alive: Receiver, redis: Redis) -> None:
    """The head may arrive complete in one read: it is measured as parsed, not only while incomplete."""
    body = event_body()
    headers = signed_headers(body) | {f"x-forwarded-{n}": "f" * 200 for n in range(100)}
    with socket.create_connection(("127.0.0.1", alive.port), timeout=10) as connection:
        connection.sendall(raw_request(PATH, body, headers))
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert refused(answer)
    assert redis.llen(QUEUE_KEY) == 0


def test_an_oversized_head_pipelined_behind_a_request_is_refused(alive: Receiver, redis: Redis) -> None:
    """Both requests in one write: the second's head is measured all the same. (As for any parser
    error, uvicorn answers and closes at once, so the first may be left unanswered; Zoom does not
    pipeline, and an unanswered delivery is retried.)"""
    first, second = event_body("meeting.started"), event_body("meeting.ended")
    big = signed_headers(second) | {f"x-forwarded-{n}": "f" * 200 for n in range(100)}
    with socket.create_connection(("127.0.0.1", alive.port), timeout=10) as connection:
        connection.sendall(raw_request(PATH, first, signed_headers(first)) + raw_request(PATH, second, big))
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
    assert b"HTTP/1.1 431 " in answer, answer[:400]
    assert redis.llen(QUEUE_KEY) <= 1


def test_an_endless_header_is_cut_off(alive: Receiver) -> None:
    endless = b"POST /zoom-webhook HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 8 * 1024 * 1024
    sent, answer = send_in_pieces(alive.port, endless, piece=16 * 1024)
    assert refused(answer), answer[:200]
    # Cut off near the limit; the kernel's socket buffers hold some more.
    assert sent < 1024 * 1024, f"the server read {sent} bytes of one header"


def test_a_generous_sane_head_is_served(alive: Receiver, redis: Redis) -> None:
    """8 KiB of headers, well above what Zoom or a proxy sends, sent slowly in pieces."""
    body = event_body()
    headers = signed_headers(body) | {f"x-forwarded-{n}": "f" * 200 for n in range(40)}
    headers["connection"] = "close"  # so that the server closes after answering
    _, answer = send_in_pieces(alive.port, raw_request(PATH, body, headers), piece=512)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert redis.llen(QUEUE_KEY) == 1


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
