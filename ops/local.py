"""`zoom-ingest local`: the whole service on one machine, without Docker.

Redis and an Elasticsearch node (see ops/services.py) keep their data under the data directory
(with `--es-hosts`, an Elasticsearch of yours takes the node's place); a receiver, a worker and a
poller (idle without Zoom credentials) run as child processes wired to them. SIGINT (Ctrl-C, also
when started in the background, where the shell ignores it) and SIGTERM stop everything: the
receiver, worker and poller first, so the worker finishes its batch while Redis and Elasticsearch
still run, then the servers. What `status`, `replay` and `check` need to reach this stack is
written to <data dir>/settings.env.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ops.services import (
    ElasticsearchNode,
    RedisServer,
    ServiceError,
    closed_parent,
    runtime_user,
    wait_for_port,
)
from shared.config import Settings, env_name

# Beside, not on, the ports a system Redis (6379) or Elasticsearch (9200) installed from packages takes.
DEFAULT_PORT = 8181
DEFAULT_ES_PORT = 19200
DEFAULT_REDIS_PORT = 16379
DEFAULT_METRICS_PORT = 19090
DEFAULT_RECEIVER_METRICS_PORT = 19091
SETTINGS_FILE = "settings.env"
TOKEN_FILE = "secret-token"
# As root, the node's files go here when the data directory is in a home its user cannot enter.
NODE_DIRECTORIES = Path("/var/lib/zoom-ingest")


@dataclass(frozen=True)
class Ports:
    receiver: int = DEFAULT_PORT
    elasticsearch: int = DEFAULT_ES_PORT
    redis: int = DEFAULT_REDIS_PORT
    metrics: int = DEFAULT_METRICS_PORT
    receiver_metrics: int = DEFAULT_RECEIVER_METRICS_PORT


def port_is_free(port: int) -> bool:
    """Nothing listens on it. Connections of a stopped server lingering in TIME_WAIT do not count:
    the servers themselves bind with SO_REUSEADDR, so a restart right after a stop must work."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def invoking_user() -> tuple[int, int]:
    """Who ran the command: under sudo, the user behind it, so the files meant for them are theirs."""
    if os.geteuid() == 0 and os.environ.get("SUDO_UID", "").isdigit():
        return int(os.environ["SUDO_UID"]), int(os.environ.get("SUDO_GID", os.environ["SUDO_UID"]))
    return os.geteuid(), os.getegid()


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, mode 0600 and owned by the invoking user, also when it existed."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(descriptor, 0o600)
        uid, gid = invoking_user()
        if (uid, gid) != (os.geteuid(), os.getegid()):
            os.fchown(descriptor, uid, gid)
        file.write(text)


def authentication(settings: Settings, data_dir: Path) -> dict[str, str]:
    """What the receiver needs to start: nothing when the settings (environment or ./.env) give
    tokens, a header or ALLOW_UNAUTHENTICATED; otherwise a token of its own, kept in the data
    directory for signing test requests."""
    if settings.authentication_configured or settings.allow_unauthenticated:
        return {}
    path = data_dir / TOKEN_FILE
    token = (path.read_text().strip() if path.is_file() else "") or secrets.token_urlsafe(24)
    write_private(path, token)
    return {env_name("secret_tokens"): token}


def settings_text(values: dict[str, str], path: Path) -> str:
    """`values` as NAME='value' lines, which both a shell (`.`) and a .env reader understand."""
    lines = [
        "# The settings of the stack `zoom-ingest local` runs, for zoom-ingest status, replay and check",
        f"# (and rq). In a shell: set -a; . {shlex.quote(str(path))}; set +a",
        *(f"{name}={shlex.quote(value)}" for name, value in values.items()),
    ]
    return "\n".join(lines) + "\n"


def node_directory(data_dir: Path) -> Path:
    """Where the node keeps its files: <data dir>/elasticsearch, unless the node runs as its own
    user (we are root) and cannot enter a directory above it; then under NODE_DIRECTORIES, linked
    from the data directory so it is still found there."""
    data_dir = data_dir.resolve()
    wanted = data_dir / "elasticsearch"
    if wanted.is_symlink():  # made by an earlier start
        return wanted.resolve()
    if runtime_user() is None or closed_parent(wanted) is None:
        return wanted
    elsewhere = NODE_DIRECTORIES / f"local-{hashlib.sha256(bytes(data_dir)).hexdigest()[:12]}"
    elsewhere.mkdir(parents=True, exist_ok=True)
    NODE_DIRECTORIES.chmod(0o755)
    if not wanted.exists():
        wanted.symlink_to(elsewhere)
    return elsewhere


def say(text: str) -> None:
    print(text, flush=True)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_local(settings: Settings, data_dir: Path, ports: Ports, es_hosts: str | None = None) -> int:
    wanted = {"--port": ports.receiver, "--redis-port": ports.redis, "--metrics-port": ports.metrics}
    wanted["--receiver-metrics-port"] = ports.receiver_metrics
    if es_hosts is None:
        wanted["--es-port"] = ports.elasticsearch
    for name, port in wanted.items():
        if not port_is_free(port):
            say(f"zoom-ingest local: port {port} ({name}) is in use; choose another with {name}")
            return 2
    # Handled explicitly: started with `&`, Python would keep the shell's SIG_IGN for SIGINT. A
    # handled signal is reset to the default in the children, so they can be stopped with it too.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = authentication(settings, data_dir)
    if generated:
        say(
            f"Secret token for signing test requests: see {data_dir / TOKEN_FILE}. "
            "Set ZOOM_INGEST_SECRET_TOKENS (environment or ./.env) to your Zoom app's Secret Token "
            "to receive real events."
        )
    redis = RedisServer(data_dir / "redis", port=ports.redis)
    elasticsearch = None
    if es_hosts is None:
        elasticsearch = ElasticsearchNode(node_directory(data_dir), http_port=ports.elasticsearch, heap="1g")
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        say(f"starting redis on {redis.url}")
        redis.start()
        if elasticsearch is not None:
            say(
                f"starting elasticsearch {elasticsearch.url} in {elasticsearch.base_dir} "
                "(Elastic's minimal integ-test build; the first start resolves it with mvn)"
            )
            elasticsearch.start()
        stack = {
            env_name("redis_url"): redis.url,
            env_name("es_hosts"): es_hosts or (elasticsearch.url if elasticsearch else ""),
            env_name("listen_port"): str(ports.receiver),
            **generated,
        }
        settings_path = data_dir / SETTINGS_FILE
        write_private(settings_path, settings_text(stack, settings_path))
        environment = dict(os.environ)
        # Its own lone Redis: Sentinel or replica acknowledgement set in the shell must not apply.
        for setting in ("redis_sentinels", "redis_sentinel_master", "ack_replicas"):
            environment.pop(env_name(setting), None)
        environment.update(stack)
        command = [sys.executable, "-m", "ops.cli"]
        worker = {env_name("metrics_port"): str(ports.metrics)}
        children["worker"] = subprocess.Popen([*command, "worker"], env=environment | worker)
        # The receiver's metrics are on a monitoring listener of their own, never the webhook port.
        receiver = {env_name("metrics_port"): str(ports.receiver_metrics)}
        children["receiver"] = subprocess.Popen([*command, "receiver"], env=environment | receiver)
        # Polls Zoom's reports when ZOOM_INGEST_ZOOM_* are set; idles otherwise. Its metrics stay
        # off: one process per port.
        poller = {env_name("metrics_port"): "0"}
        children["poller"] = subprocess.Popen([*command, "poll", "--if-configured"], env=environment | poller)
        wait_for_port(ports.receiver, 30)
        host, monitoring = settings.listen_host, settings.metrics_host
        say(
            f"zoom-ingest is up: POST http://{host}:{ports.receiver}{settings.webhook_path} ; documents in "
            f"{stack[env_name('es_hosts')]} ; metrics of the worker on http://{monitoring}:{ports.metrics}"
            f"/metrics, of the receiver on http://{monitoring}:{ports.receiver_metrics}/metrics\n"
            f"settings for zoom-ingest status, replay and check: set -a; . {settings_path}; set +a\n"
            "Ctrl-C (SIGINT) or SIGTERM stops everything."
        )
        while not (ended := [name for name, child in children.items() if child.poll() is not None]):
            time.sleep(0.5)
        code = children[ended[0]].returncode
        say(f"zoom-ingest local: the {ended[0]} exited with {code}; its lines above say why")
        return 1
    except (ServiceError, OSError, subprocess.SubprocessError) as error:
        # A server that cannot start (port, Java, mvn, files it cannot read): one line, not a trace.
        say(f"zoom-ingest local: {error}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C or SIGTERM must not cut the clean-up short and leave servers running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children.values():
            child.send_signal(signal.SIGINT)
        for child in children.values():
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        if elasticsearch is not None:
            elasticsearch.stop()
        redis.stop()
