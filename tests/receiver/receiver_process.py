"""A real `zoom-ingest receiver` process for the tests of slow and abusive clients, what it gave
uvicorn, and a signed event posted to it on a fresh connection with its answer read off the socket."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from receiver import server
from shared.config import load_settings
from tests.support import TOKEN, event_body, raw_request, signed_headers

PATH = "/zoom-webhook"
QUEUE_KEY = "rq:queue:zoom-webhooks"


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
