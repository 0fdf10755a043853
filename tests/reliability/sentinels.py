"""A Redis primary, its replica and three redis-sentinel processes on spare ports, for failover scenarios."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import redis

from tests.reliability.cluster import RedisServer
from tests.support import free_port

MASTER = "hub-primary"
# Seconds without an answer before a Sentinel calls the primary down; Sentinel's default is 30.
DOWN_AFTER_MS = 1000


def ensure_redis_sentinel() -> bool:
    """Debian's redis-sentinel is on PATH, installed with apt-get first when it is missing and we can."""
    if shutil.which("redis-sentinel") is not None:
        return True
    if shutil.which("apt-get") is not None and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "redis-sentinel"],
            capture_output=True,
            check=False,
            timeout=300,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    return shutil.which("redis-sentinel") is not None


def wait(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {within}s")
        time.sleep(0.1)


def answers(port: int, ask: Callable[[Any], object]) -> object:
    """What `ask` gets from the server on `port`, or None when it does not answer.

    `ask` takes the client as Any: redis-py's SENTINEL commands carry no type hints.
    """
    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        return ask(client)
    except redis.RedisError:
        return None
    finally:
        client.close()


class SentinelProcess:
    """One redis-sentinel watching `MASTER`, with its own rewritable config file."""

    def __init__(self, primary_port: int, quorum: int) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hub-sentinel-"))
        (self.dir / "sentinel.conf").write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} {quorum}\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        # A file, not a pipe, so a full pipe never blocks the process; kept for failure messages.
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            ["redis-sentinel", str(self.dir / "sentinel.conf")], stdout=self.log, stderr=subprocess.STDOUT
        )

    def primary_port(self) -> int | None:
        address = answers(self.port, lambda c: c.sentinel_get_master_addr_by_name(MASTER))
        if not isinstance(address, tuple | list) or len(address) != 2:
            return None
        return int(address[1])

    def peers(self) -> int:
        found = answers(self.port, lambda c: c.sentinel_sentinels(MASTER))
        return len(found) if isinstance(found, list) else 0

    def replicas(self) -> int:
        found = answers(self.port, lambda c: c.sentinel_slaves(MASTER))
        return len(found) if isinstance(found, list) else 0

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelGroup:
    """The primary, one replica of it, and the Sentinels that fail it over (quorum: a majority)."""

    def __init__(self, primary: RedisServer, replica: RedisServer, sentinels: list[SentinelProcess]) -> None:
        self.primary = primary
        self.replica = replica
        self.sentinels = sentinels

    def hub_env(self) -> dict[str, str]:
        """What a hub process needs to find the primary through the Sentinels (REDIS_URL unset)."""
        return {
            "REDIS_URL": "",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER,
        }

    def primary_port(self) -> int | None:
        """The primary's port as the Sentinels agree on it, or None while they differ."""
        ports = {s.primary_port() for s in self.sentinels}
        return ports.pop() if len(ports) == 1 else None

    def ready(self) -> bool:
        """Each Sentinel knows the replica and the other Sentinels, and the replica is in sync."""
        others = len(self.sentinels) - 1
        info = answers(self.replica.port, lambda c: c.info("replication"))
        linked = isinstance(info, dict) and info.get("master_link_status") == "up"
        return linked and all(s.peers() == others and s.replicas() == 1 for s in self.sentinels)

    def describe(self) -> str:
        return "\n".join(f"--- sentinel {s.port}\n{s.output()[-3000:]}" for s in self.sentinels)


@contextmanager
def sentinel_group(count: int = 3) -> Iterator[SentinelGroup]:
    """Start the primary, its replica and `count` Sentinels; wait until a failover could happen."""
    with ExitStack() as stack:
        # The full sync writes an RDB file where each server runs: a directory of their own, not the cwd.
        files = stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-redis-"))
        primary = RedisServer("--dir", files, "--dbfilename", "primary.rdb").start()
        stack.callback(primary.stop)
        replica = RedisServer(
            "--dir", files, "--dbfilename", "replica.rdb", "--replicaof", "127.0.0.1", str(primary.port)
        ).start()
        stack.callback(replica.stop)
        sentinels = []
        for _ in range(count):
            sentinel = SentinelProcess(primary.port, quorum=count // 2 + 1)
            stack.callback(sentinel.stop)
            sentinels.append(sentinel)
        group = SentinelGroup(primary, replica, sentinels)
        # Sentinels find the replica and each other through the primary's hello channel (every 2 s).
        wait(group.ready, 30, "the sentinels did not find the replica and each other")
        yield group
