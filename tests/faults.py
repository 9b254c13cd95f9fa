"""A small fault-injecting HTTP proxy to put in front of the real Elasticsearch node."""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import socket
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
ELASTICSEARCH_HEADERS = [("content-type", "application/json"), ("x-elastic-product", "Elasticsearch")]
REJECTED = (
    429,
    {
        "error": {"type": "es_rejected_execution_exception", "reason": "injected by FaultProxy"},
        "status": 429,
    },
)
T = TypeVar("T")


def _first(rules: dict[str, T], path: str) -> T | None:
    return next((value for pattern, value in rules.items() if re.match(pattern, path)), None)


class FaultProxy:
    """Forwards every request to `upstream`, except for the faults it is given:

    - bulk_rejection_ratio: that share of bulk requests get a 429 as from an overloaded cluster
      (es_rejected_execution_exception);
    - answers: {path pattern: (status, JSON body)} given instead of the node's answer, with the
      headers Elasticsearch sends;
    - rewrite: {path pattern: function}: the node's JSON answer is replaced by the function's result;
    - drop_headers: response headers removed from every answer, the node's and the injected ones.

    A path pattern is a regular expression matched at the start of the path (query string excluded),
    so a plain path matches every path that starts with it; the first matching rule applies.
    `requests` lists the (method, path, {lower-case header: value}) of every request received.
    """

    def __init__(
        self,
        upstream: str,
        bulk_rejection_ratio: float = 0.0,
        seed: int = 7,
        *,
        answers: dict[str, tuple[int, Any]] | None = None,
        rewrite: dict[str, Callable[[Any], Any]] | None = None,
        drop_headers: Iterable[str] = (),
    ) -> None:
        self.upstream = urlsplit(upstream)
        self.bulk_rejection_ratio = bulk_rejection_ratio
        self.random = random.Random(seed)
        self.answers = answers or {}
        self.rewrite = rewrite or {}
        self.drop_headers = {name.lower() for name in drop_headers}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.rejected = 0
        self.forwarded_bulks = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _should_reject(self, path: str) -> bool:
        if "_bulk" not in path:
            return False
        with self.lock:
            reject = self.random.random() < self.bulk_rejection_ratio
            if reject:
                self.rejected += 1
            else:
                self.forwarded_bulks += 1
            return reject

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                path = urlsplit(self.path).path
                received = {name.lower(): value for name, value in self.headers.items()}
                proxy.requests.append((self.command, path, received))
                answer = _first(proxy.answers, path) or (
                    REJECTED if proxy._should_reject(self.path) else None
                )
                if answer is not None:
                    status, document = answer
                    self._answer(status, ELASTICSEARCH_HEADERS, json.dumps(document).encode())
                    return
                upstream = http.client.HTTPConnection(
                    proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port, timeout=60
                )
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                    rewrite = _first(proxy.rewrite, path)
                    if rewrite is not None:
                        payload = json.dumps(rewrite(json.loads(payload))).encode()
                    self._answer(response.status, kept, payload)
                except OSError:
                    self._answer(502, [("content-type", "text/plain")], b"upstream unreachable")
                finally:
                    upstream.close()

            def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in proxy.drop_headers:
                        self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        return Handler


class ReplyDroppingProxy:
    """A TCP proxy in front of a Redis server that can lose one reply on the wire.

    Traffic is relayed both ways unchanged until `drop_reply_to(marker)` is armed: the next request
    containing `marker` still reaches Redis (which runs it), but its reply is swallowed and the
    client's connection closed, as when a connection breaks after the server answered. One-shot.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.marker: bytes | None = None
        self.dropped = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ReplyDroppingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.listener.close()

    def drop_reply_to(self, marker: bytes) -> None:
        with self.lock:
            self.marker = marker

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            dropping = threading.Event()
            threading.Thread(target=self._requests, args=(client, upstream, dropping), daemon=True).start()
            threading.Thread(target=self._replies, args=(client, upstream, dropping), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, dropping: threading.Event) -> None:
        while chunk := _receive(client):
            with self.lock:
                if self.marker is not None and self.marker in chunk:
                    self.marker = None
                    dropping.set()  # before Redis can answer
            try:
                upstream.sendall(chunk)
            except OSError:
                break
        _close(client, upstream)

    def _replies(self, client: socket.socket, upstream: socket.socket, dropping: threading.Event) -> None:
        while reply := _receive(upstream):
            if dropping.is_set():  # Redis ran the command; its answer goes nowhere
                with self.lock:
                    self.dropped += 1
                break
            try:
                client.sendall(reply)
            except OSError:
                break
        _close(client, upstream)


def _receive(connection: socket.socket) -> bytes:
    try:
        return connection.recv(1 << 16)
    except OSError:
        return b""


def _close(*connections: socket.socket) -> None:
    for connection in connections:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        connection.close()
