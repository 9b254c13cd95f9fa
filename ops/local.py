"""`zoom-ingest local`: the whole service on one machine, without Docker.

Redis and an Elasticsearch node (see ops/services.py) keep their data under the data directory;
a receiver, a worker and a poller (idle without Zoom credentials) run as child processes wired to
them. Ctrl-C stops everything, workers
first so no job is cut short.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from ops.services import ElasticsearchNode, RedisServer, wait_for_port
from shared.config import env_name


def _secret_token(data_dir: Path) -> str:
    path = data_dir / "secret-token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_local(data_dir: Path, port: int, es_port: int, redis_port: int) -> int:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    environment = dict(os.environ)
    auth_names = ("secret_tokens", "auth_header", "allow_unauthenticated")
    if not any(environment.get(env_name(name)) for name in auth_names):
        environment[env_name("secret_tokens")] = _secret_token(data_dir)
        print(
            f"Secret token for signing test requests: see {data_dir / 'secret-token'}. "
            "Set ZOOM_INGEST_SECRET_TOKENS to your Zoom app's Secret Token to receive real events."
        )
    for name, wanted in (("--port", port), ("--es-port", es_port), ("--redis-port", redis_port)):
        if not port_is_free(wanted):
            print(f"zoom-ingest local: port {wanted} ({name}) is in use; choose another with {name}")
            return 2
    redis = RedisServer(data_dir / "redis", port=redis_port)
    elasticsearch = ElasticsearchNode(data_dir / "elasticsearch", http_port=es_port, heap="1g")
    children: list[subprocess.Popen[bytes]] = []
    try:
        print(f"starting redis on {redis.url}")
        redis.start()
        print(f"starting elasticsearch {elasticsearch.url} (first start resolves it with mvn)")
        elasticsearch.start()
        # Its own lone Redis: Sentinel or replica acknowledgement set in the shell must not apply.
        for setting in ("redis_sentinels", "redis_sentinel_master", "ack_replicas"):
            environment.pop(env_name(setting), None)
        environment.update(
            {
                env_name("redis_url"): redis.url,
                env_name("es_hosts"): elasticsearch.url,
                env_name("listen_port"): str(port),
            }
        )
        command = [sys.executable, "-m", "ops.cli"]
        children.append(subprocess.Popen([*command, "worker"], env=environment))
        children.append(subprocess.Popen([*command, "receiver"], env=environment))
        # Polls Zoom's reports when ZOOM_INGEST_ZOOM_* are set; idles otherwise.
        children.append(subprocess.Popen([*command, "poll", "--if-configured"], env=environment))
        wait_for_port(port, 30)
        if any(child.poll() is not None for child in children):
            return 1
        path = environment.get(env_name("webhook_path"), "/zoom-webhook")
        print(f"zoom-ingest is up: POST http://127.0.0.1:{port}{path} ; documents in {elasticsearch.url}")
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C or SIGTERM must not cut the clean-up short and leave servers running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children:
            child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        elasticsearch.stop()
        redis.stop()
