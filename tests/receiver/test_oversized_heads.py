"""Oversized request heads against a real `zoom-ingest receiver` process, with the head limit of
receiver/protocol.py (docs/hardening.md): refused (JSON 431, or the connection is closed), an
endless header is cut off, while a generous but sane head is served."""

from __future__ import annotations

import contextlib
import json
import socket
import time

from redis import Redis

from tests.receiver.receiver_process import PATH, QUEUE_KEY, Receiver
from tests.support import event_body, raw_request, signed_headers


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
