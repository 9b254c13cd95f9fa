"""Real Redis and Elasticsearch processes on loopback, for `zoom-ingest local` and the tests.

Redis is Debian's redis-server. Elasticsearch is the official 8.14.1 distribution that Elastic
publishes on Maven Central (org.elasticsearch.distribution.integ-test-zip), resolved with mvn into
the local Maven repository and unpacked once into a cache; it runs on the machine's Java 17.
Elasticsearch refuses to run as root, so as root the node runs as a system user made for it.
Each server runs in a process group of its own: a terminal's Ctrl-C reaches only the command that
started it, which stops the servers last, after the processes that still write to them.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Self

ES_VERSION = "8.14.1"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
ES_USER = "zoom-ingest-es"
# As root the node runs as another user, who must be able to read the distribution.
_DEFAULT_CACHE = (
    Path("/var/cache/zoom-ingest") if os.geteuid() == 0 else Path.home() / ".cache" / "zoom-ingest"
)
CACHE_DIR = Path(os.environ.get("ZOOM_INGEST_CACHE_DIR", _DEFAULT_CACHE))


class ServiceError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class RedisServer:
    """redis-server with AOF on and noeviction, as production should run it."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        appendfsync: str = "everysec",
        replica_of: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.replica_of = replica_of  # the port of the primary on 127.0.0.1 this starts as a replica of
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server not found: apt-get install redis-server")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                self.appendfsync,
                "--maxmemory-policy",
                "noeviction",
                "--save",
                "",
                "--protected-mode",
                "no",
                # A replica's full sync starts at once instead of waiting 5 s for more replicas.
                "--repl-diskless-sync-delay",
                "0",
                *(["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
        wait_for_port(self.port, 20)
        return self

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL, as a crash: what is acknowledged must already be in the append-only file."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def java_home() -> str:
    for candidate in (os.environ.get("ES_JAVA_HOME"), os.environ.get("JAVA_HOME")):
        if candidate and Path(candidate, "bin", "java").exists():
            return candidate
    java = shutil.which("java")
    if java is None:
        raise ServiceError(
            "java not found: Elasticsearch 8.14 needs Java 17 (apt-get install openjdk-17-jre-headless)"
        )
    return str(Path(java).resolve().parents[1])


def elasticsearch_home() -> Path:
    """The unpacked ES distribution, resolved with mvn on first use."""
    home = CACHE_DIR / f"elasticsearch-{ES_VERSION}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    group, artifact, version, _ = ES_ARTIFACT.split(":")
    repository = Path(os.environ.get("MAVEN_REPOSITORY", Path.home() / ".m2" / "repository"))
    archive = repository.joinpath(*group.split("."), artifact, version, f"{artifact}-{version}.zip")
    if not archive.exists():
        if shutil.which("mvn") is None:
            raise ServiceError("mvn not found: apt-get install maven")
        subprocess.run(
            ["mvn", "-B", "-q", "dependency:get", f"-Dartifact={ES_ARTIFACT}", "-Dtransitive=false"],
            check=True,
        )
    staging = CACHE_DIR / f".unpacking-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            extracted = Path(bundle.extract(member, staging))
            # zipfile drops permission bits; the launch scripts need theirs.
            mode = (member.external_attr >> 16) & 0o777
            if mode:
                extracted.chmod(mode)
    (staging / f"elasticsearch-{ES_VERSION}").rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    return home


def runtime_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(ES_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER],
            check=True,
        )
        return pwd.getpwnam(ES_USER)


def closed_parent(directory: Path) -> Path | None:
    """The first directory above `directory` that other users cannot enter (a 0700 or 0750 home),
    or None: the node's system user is neither owner nor group of anything above its own files."""
    for parent in directory.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            return parent
    return None


def _check_reachable(directory: Path, user: pwd.struct_passwd) -> None:
    parent = closed_parent(directory)
    if parent is not None:
        raise ServiceError(
            f"{directory} is inside {parent}, which user {user.pw_name} (Elasticsearch does not run as "
            "root) cannot enter; choose a data directory outside it, e.g. under /tmp or /var/lib"
        )


class ElasticsearchNode:
    """One single-node cluster, security off, loopback only (the tests subclass it: tests/secured_node.py)."""

    scheme = "http"

    def __init__(self, base_dir: Path, http_port: int | None = None, heap: str = "512m") -> None:
        self.base_dir = base_dir
        self.http_port = http_port or free_port()
        self.transport_port = free_port()
        self.heap = heap
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    def _security_settings(self, config: Path, fresh: bool) -> dict[str, object]:
        """elasticsearch.yml's security settings; may write files into `config` (new when `fresh`)."""
        return {"xpack.security.enabled": False}

    def _health_request(self) -> tuple[urllib.request.Request, ssl.SSLContext | None]:
        url = f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=2s"
        return urllib.request.Request(url), None

    def _configure(self, home: Path) -> Path:
        config = self.base_dir / "config"
        fresh = not config.exists()
        if fresh:
            shutil.copytree(home / "config", config)
        # The stock JVM options write GC logs and dumps relative to the (read-only) install.
        jvm_options = config / "jvm.options"
        jvm_options.write_text(
            (home / "config" / "jvm.options")
            .read_text()
            .replace("file=logs/", f"file={self.base_dir}/logs/")
            .replace("ErrorFile=logs/", f"ErrorFile={self.base_dir}/logs/")
            .replace("HeapDumpPath=data", f"HeapDumpPath={self.base_dir}/data")
        )
        settings = {
            "cluster.name": "zoom-ingest-local",
            "node.name": "node-1",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": self.http_port,
            "transport.port": self.transport_port,
            "path.data": str(self.base_dir / "data"),
            "path.logs": str(self.base_dir / "logs"),
            **self._security_settings(config, fresh),
            # Test machines can run with little free disk; never turn the node read-only for it.
            "cluster.routing.allocation.disk.threshold_enabled": False,
            "action.destructive_requires_name": False,
        }
        (config / "elasticsearch.yml").write_text(
            "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())
        )
        for directory in ("data", "logs", "tmp"):
            (self.base_dir / directory).mkdir(parents=True, exist_ok=True)
        return config

    def start(self, timeout: float = 180.0) -> Self:
        home = elasticsearch_home()
        config = self._configure(home)
        user = runtime_user()
        command = [str(home / "bin" / "elasticsearch")]
        if user is not None:
            _check_reachable(self.base_dir, user)
            for path in [self.base_dir, *self.base_dir.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)
            command = [
                "setpriv",
                f"--reuid={user.pw_uid}",
                f"--regid={user.pw_gid}",
                "--clear-groups",
                *command,
            ]
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": java_home(),
            "ES_PATH_CONF": str(config),
            "ES_TMPDIR": str(self.base_dir / "tmp"),
            "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
        }
        log = (self.base_dir / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            command,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.base_dir,
            process_group=0,
        )
        self.wait_until_ready(timeout)
        return self

    def wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health, context = self._health_request()
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                status = self.process.returncode
                raise ServiceError(f"elasticsearch exited with {status}: {self.log_tail()}")
            with (
                contextlib.suppress(OSError, ValueError),
                urllib.request.urlopen(health, timeout=5, context=context) as response,
            ):
                if json.load(response).get("status") in ("yellow", "green"):
                    return
            time.sleep(0.5)
        raise ServiceError(f"elasticsearch not ready after {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        path = self.base_dir / "stdout.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process, timeout=60)
