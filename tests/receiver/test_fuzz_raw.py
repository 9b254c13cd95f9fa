"""The fuzzing through uvicorn: raw bytes sent to a real `zoom-ingest receiver` process, so that
uvicorn's HTTP parser is fuzzed too (tests/receiver/fuzzing.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis import Redis

from ops.services import RedisServer, free_port, wait_for_port
from tests.receiver.fuzzed_raw_requests import Raw, raw_requests
from tests.receiver.fuzzing import PATH, PROFILE, QUEUE_KEY, RAW_BATCHES, signed
from tests.support import running, service_environment


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


def dechunk(data: bytes) -> tuple[bytes, bytes] | None:
    """(body, rest) of a complete chunked body at the start of `data`; None while incomplete."""
    body = b""
    while b"\r\n" in data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            if b"\r\n" not in data:
                return None
            return body, data.partition(b"\r\n")[2]  # no trailers from uvicorn
        if len(data) < size + 2:
            return None
        body, data = body + data[:size], data[size + 2 :]
    return None


def parse_answers(data: bytes) -> tuple[list[Answer], bytes]:
    """The complete HTTP/1.1 responses at the start of `data`, and what is left. uvicorn frames
    its answers with content-length or chunked, or closes after them."""
    answers: list[Answer] = []
    while b"\r\n\r\n" in data:
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        version, status, *_ = status_line.split(b" ", 2)
        assert version == b"HTTP/1.1", status_line
        if status.startswith(b"1"):  # 100 Continue: no body, the answer follows
            data = rest
            continue
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding") == b"chunked":
            decoded = dechunk(rest)
            if decoded is None:
                break
            body, data = decoded
        elif b"content-length" in headers:
            length = int(headers[b"content-length"])
            if len(rest) < length:
                break
            body, data = rest[:length], rest[length:]
        else:
            body, data = rest, b""  # delimited by the close
        answers.append(Answer(int(status), headers, body))
    return answers, data


async def exchange(port: int, raw: Raw) -> list[Answer]:
    """Send one raw request on its own connection; collect the answers until the server closes or
    goes quiet (waiting for more of a request it considers unfinished)."""
    patience = 10.0 if raw.well_formed else 1.0 if raw.signed else 0.5
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    try:
        writer.write(raw.data)
        await writer.drain()
        deadline = time.monotonic() + patience
        while (remaining := deadline - time.monotonic()) > 0:
            answers, _ = parse_answers(received)
            wait = min(remaining, 0.3) if answers else remaining
            try:
                chunk = await asyncio.wait_for(reader.read(65536), wait)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
    except (ConnectionError, OSError):
        pass  # the server may refuse and reset while we still write; what it answered counts
    finally:
        writer.close()
    answers, _ = parse_answers(received)
    return answers


PARSER_400 = b"Invalid HTTP request received."


@pytest.fixture(scope="module")
def receiver_process(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[tuple[int, Any]]:
    port = free_port()
    environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default")
    log = tmp_path_factory.mktemp("fuzz-receiver") / "receiver.log"
    with running(["receiver", "--port", str(port)], environment, log) as process:
        wait_for_port(port, 30)
        yield port, process


@settings(PROFILE, max_examples=RAW_BATCHES)
@given(batch=st.lists(raw_requests, min_size=1, max_size=12))
def test_raw_bytes_through_uvicorn_get_2xx_or_4xx_and_queue_only_on_200(
    batch: list[Raw], receiver_process: tuple[int, Any], store: Redis
) -> None:
    port, process = receiver_process
    before = store.llen(QUEUE_KEY)

    async def send_all() -> list[list[Answer]]:
        return await asyncio.gather(*(exchange(port, raw) for raw in batch))

    results = asyncio.run(send_all())
    queued = unanswered_signed = 0
    for raw, answers in zip(batch, results, strict=True):
        unanswered_signed += raw.signed and not answers
        if raw.well_formed:
            assert [answer.status for answer in answers][:1] == [200], (raw, answers)
        for answer in answers:
            assert answer.status < 500 and not 300 <= answer.status < 400, (raw, answer)
            if answer.status >= 400:
                if answer.headers.get(b"content-type") == b"application/json":
                    error = json.loads(answer.body)["error"]
                    assert isinstance(error, str) and error, (raw, answer)
                else:
                    assert answer.body == PARSER_400, (raw, answer)
            if answer.status == 200 and answer.body == b'{"status":"queued"}':
                queued += 1
    # A signed request left unanswered (the server waits for the rest of it) may have been queued
    # if the server found it complete after all and was slow to answer; nothing else may be.
    assert queued <= store.llen(QUEUE_KEY) - before <= queued + unanswered_signed
    assert process.poll() is None


def test_the_fuzzed_process_is_still_alive_and_serving(
    receiver_process: tuple[int, Any], store: Redis
) -> None:
    port, process = receiver_process
    assert process.poll() is None
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        body = b'{"event": "meeting.started", "payload": {"account_id": "a"}}'
        response = client.post(PATH, content=body, headers=signed(body))
        assert response.status_code == 200
    assert process.poll() is None
