"""Redis with replicas and Sentinel on loopback, for the tests: Debian's
redis-sentinel next to the redis-server processes of ops.services."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from redis import Redis

from ops.services import RedisServer, ServiceError, free_port, stop_process, wait_for_port


class RedisSentinel:
    """One redis-sentinel monitoring `master` (a primary on 127.0.0.1:primary_port)."""

    def __init__(
        self,
        data_dir: Path,
        master: str,
        primary_port: int,
        *,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.master = master
        self.primary_port = primary_port
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> RedisSentinel:
        binary = shutil.which("redis-sentinel")
        if binary is None:
            raise ServiceError("redis-sentinel not found: apt-get install redis-sentinel")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Sentinel rewrites its configuration file as it learns the group: it must be its own.
        config = self.data_dir / "sentinel.conf"
        name = self.master
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.data_dir}\n"
            f"sentinel monitor {name} 127.0.0.1 {self.primary_port} {self.quorum}\n"
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {name} 2\n"
        )
        log = (self.data_dir / "sentinel.log").open("ab")
        self.process = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 20)
        return self

    def stop(self) -> None:
        stop_process(self.process)


class ReplicatedRedis:
    """A primary, its replicas and the Sentinels that watch them, all on loopback.

    `servers` keeps its order (the first is the primary at start); which one is the primary after a
    failover is Sentinel's to say (`primary()`).
    """

    def __init__(
        self, base_dir: Path, master: str = "zoom-ingest", *, replicas: int = 2, sentinels: int = 3
    ) -> None:
        self.master = master
        primary = RedisServer(base_dir / "redis-0")
        self.servers = [primary] + [
            RedisServer(base_dir / f"redis-{n}", replica_of=primary.port) for n in range(1, replicas + 1)
        ]
        self.sentinels = [
            RedisSentinel(base_dir / f"sentinel-{n}", master, primary.port, quorum=min(2, sentinels))
            for n in range(sentinels)
        ]

    @property
    def sentinel_addresses(self) -> str:
        """As ZOOM_INGEST_REDIS_SENTINELS takes them."""
        return ",".join(sentinel.address for sentinel in self.sentinels)

    def start(self, timeout: float = 30.0) -> ReplicatedRedis:
        for server in self.servers:
            server.start()
        self.wait_for_replicas(len(self.servers) - 1, timeout)
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_until_watched(timeout)
        return self

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            server.stop()

    def client(self, server: RedisServer) -> Redis:
        return Redis(port=server.port, socket_timeout=5, socket_connect_timeout=2)

    def primary(self) -> RedisServer:
        """The server the Sentinels currently name as primary (the first Sentinel that answers)."""
        for sentinel in self.sentinels:
            if sentinel.process is None or sentinel.process.poll() is not None:
                continue
            with Redis(port=sentinel.port, socket_timeout=2) as client:
                _, port = client.sentinel_get_master_addr_by_name(self.master)
            return next(server for server in self.servers if server.port == int(port))
        raise ServiceError("no sentinel running")

    def wait_for_replicas(self, count: int, timeout: float) -> None:
        """Until the current primary has `count` replicas online and in sync."""
        deadline = time.monotonic() + timeout
        watched = any(sentinel.process is not None for sentinel in self.sentinels)
        primary = self.primary() if watched else self.servers[0]
        with self.client(primary) as client:
            while time.monotonic() < deadline:
                info = client.info("replication")
                online = [
                    value
                    for key, value in info.items()
                    if key.startswith("slave") and isinstance(value, dict)
                ]
                if sum(replica.get("state") == "online" for replica in online) >= count:
                    return
                time.sleep(0.1)
        raise ServiceError(f"{primary.port} has not {count} replicas online after {timeout:.0f}s")

    def wait_until_watched(self, timeout: float) -> None:
        """Until every Sentinel knows the replicas and the other Sentinels (they learn them from the
        primary's INFO and hello messages), so a failover can be agreed on."""
        deadline = time.monotonic() + timeout
        replicas, others = len(self.servers) - 1, len(self.sentinels) - 1
        for sentinel in self.sentinels:
            with Redis(port=sentinel.port, socket_timeout=2) as client:
                while time.monotonic() < deadline:
                    state = client.sentinel_master(self.master)
                    if state["num-slaves"] >= replicas and state["num-other-sentinels"] >= others:
                        break
                    time.sleep(0.1)
                else:
                    raise ServiceError(
                        f"sentinel {sentinel.address} does not see the group after {timeout:.0f}s"
                    )

    def wait_for_failover(self, old: RedisServer, timeout: float) -> RedisServer:
        """Until every running Sentinel names another primary than `old`; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            named = {self.primary_by(sentinel) for sentinel in self.sentinels}
            if len(named) == 1 and old.port not in named:
                port = named.pop()
                return next(server for server in self.servers if server.port == port)
            time.sleep(0.1)
        raise ServiceError(f"no failover away from {old.port} after {timeout:.0f}s")

    def primary_by(self, sentinel: RedisSentinel) -> int:
        with Redis(port=sentinel.port, socket_timeout=2) as client:
            _, port = client.sentinel_get_master_addr_by_name(self.master)
        return int(port)
