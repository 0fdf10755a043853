"""Processes the reliability scenarios start, stop and kill: hub servers, workers, Redis, PostgreSQL."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Literal

import httpx

from tests.support import REPO_ROOT, free_port, hub_env, stop_process, wait_until_serving

PG_BIN = Path("/usr/lib/postgresql/15/bin")

Server = Literal["daphne", "uvicorn"]


def server_command(server: Server, port: int, args: tuple[str, ...] = ()) -> list[str]:
    """The command that serves `asgi:application` on 127.0.0.1:`port` with `server`.

    Uvicorn runs its `websockets` (legacy) protocol: it waits for the transport to drain after every
    frame, so a client that stops reading blocks its own socket's sends (daphne buffers them instead),
    and a close frame can still be queued behind a full buffer. The ASGI lifespan is off, as daphne
    runs none: the hub starts its background work on first use (hub/lifecycle.py).
    """
    if server == "daphne":
        return [sys.executable, "-m", "daphne", *args, "-b", "127.0.0.1", "-p", str(port), "asgi:application"]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "asgi:application",
        "--ws",
        "websockets",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--lifespan",
        "off",
        *args,
    ]


class HubProcess:
    """One hub server process (daphne, or uvicorn) whose output is kept in a file for tests to read."""

    def __init__(
        self,
        name: str,
        *,
        port: int | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        server: Server = "daphne",
    ) -> None:
        self.name = name
        self.server = server
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        # Faulthandler: a crash at exit leaves its traceback in the output.
        self.env = {"PGAPPNAME": f"hub-{name}", "PYTHONFAULTHANDLER": "1", **(env or {})}
        self.args = args
        # Open for the process's whole life; a file, not a pipe, so a full pipe never blocks the process.
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None
        self._kept = ""

    def start(self) -> HubProcess:
        self.process = subprocess.Popen(
            server_command(self.server, self.port, self.args),
            cwd=REPO_ROOT,
            env=hub_env(**self.env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until_serving(self.base, self.process, self.log)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine or the OOM killer takes the process."""
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, SIGKILL after `timeout`; the output stays readable afterwards."""
        if self.process is not None:
            stop_process(self.process, timeout)
        self._kept = self.output()
        self.log.close()

    def output(self) -> str:
        if self.log.closed:
            return self._kept
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def metric(self, name: str, token: str) -> float:
        """The value of one unlabelled sample of this process's /api/metrics/ (e.g. `hub_open_sockets`)."""
        response = httpx.get(
            f"{self.base}/api/metrics/", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        response.raise_for_status()
        for line in response.text.splitlines():
            sample, _, value = line.partition(" ")
            if sample == name:
                return float(value)
        raise KeyError(name)

    def rss_kib(self) -> int:
        """Resident memory of the server process (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


# `start_hub(name, server=..., env=..., args=...)`: the fixtures of tests/reliability/conftest.py.
StartHub = Callable[..., HubProcess]


@contextmanager
def hubs(
    count: int, args: tuple[str, ...] = (), *, server: Server = "daphne", **env: str
) -> Iterator[list[HubProcess]]:
    """`count` hub processes sharing the test database (and REDIS_URL, when set)."""
    with ExitStack() as stack:
        started = []
        for index in range(count):
            hub = HubProcess(chr(ord("a") + index), args=args, env=env, server=server)
            stack.callback(hub.stop)
            started.append(hub.start())
        yield started


class WorkerProcess:
    """`manage.py run_worker` in its own process (HUB_WORKER=external)."""

    def __init__(self, **env: str) -> None:
        # Open for the process's whole life; a file, not a pipe, so a full pipe never blocks the process.
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--concurrency", "2"],
            cwd=REPO_ROOT,
            env=hub_env(HUB_WORKER="external", **env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._kept = ""

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        self._kept = self.output()
        self.log.close()

    def output(self) -> str:
        if self.log.closed:
            return self._kept
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


class RedisServer:
    """A private redis-server on a spare port, which a test may kill and start again on the same port;
    `args` are more options (e.g. `--replicaof 127.0.0.1 6380`)."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self._pong():
            if time.monotonic() > deadline:
                raise RuntimeError("private redis did not start")
            time.sleep(0.05)
        return self

    def _pong(self) -> bool:
        done = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False)
        return done.stdout.strip() == b"PONG"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def redis_available() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def postgres_available() -> bool:
    return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None


class PostgresCluster:
    """A throwaway PostgreSQL cluster on a spare port, run as the postgres user (it refuses root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.data = self.root / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/hub"
        shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)

    def _as_postgres(self, *command: str, timeout: float = 60) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.root,
        )

    def init(self) -> PostgresCluster:
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        self._as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "hub")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def migrate(self) -> None:
        env = hub_env(DATABASE_URL=self.url)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )


def wait_for(predicate_url: str, status: int = 200, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(predicate_url, timeout=2).status_code == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{predicate_url} did not answer {status} within {timeout}s")
