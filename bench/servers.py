"""The processes under test: a scratch database, the hub under daphne or uvicorn, and the baselines."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
BENCH_SECRET = "bench-app-secret-not-for-production"
STARTUP_SECONDS = 30.0
HUB_APP = "asgi:application"
# The ASGI servers the hub runs under; bench/plan.py picks which one the target rows use.
HUB_SERVERS = ("daphne", "uvicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def hub_env(database: str, redis: str) -> dict[str, str]:
    """Production settings (DEBUG off, so no query log), with benchmark-only secrets and plain HTTP."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="hub.settings",
        DATABASE_URL=database,
        REDIS_URL=redis,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-django-secret-key-" + "x" * 40,
        DJANGO_SECURE_SSL_REDIRECT="0",
        WHATSAPP_APP_SECRET=BENCH_SECRET,
        WHATSAPP_VERIFY_TOKEN="bench-verify-token-not-for-production",
        HUB_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_database(server_url: str, name: str, env: dict[str, str], *, recreate: bool = True) -> str:
    """Create (with `recreate`: drop and create) the scratch database `name`, migrate it, return its URL."""
    with psycopg.connect(database_url(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and recreate:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        if recreate or not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(server_url, name)
    try:
        manage(env | {"DATABASE_URL": url}, "migrate", "--verbosity", "0")
    except RuntimeError:
        if recreate:
            raise
        # A kept database whose history no longer matches the migrations (they were renumbered, or
        # another checkout migrated it): start it again from empty.
        return prepare_database(server_url, name, env, recreate=True)
    return url


def manage(env: dict[str, str], *command: str) -> str:
    result = subprocess.run(  # noqa: S603 - this project's own manage.py with fixed arguments
        [PYTHON, "manage.py", *command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {command[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def issue_token(env: dict[str, str], username: str = "bench") -> str:
    """A token for every conversation, from the hub's own command (printed alone on its last line)."""
    return manage(env, "issue_token", username).strip().splitlines()[-1].strip()


# Bulk tokens for the socket scenarios, stored as store/auth.py stores them (only the SHA-256).
TOKEN_PREFIX = "wah_"
INSERT_TOKEN = (
    "INSERT INTO whatsapp_apitoken (user_id, key_hash, prefix, business_phone_number_id, phones, created_at) "
    "SELECT id, %s, %s, '', '[]', now() FROM auth_user WHERE username = %s"
)


def issue_tokens(database: str, count: int, username: str = "bench") -> list[str]:
    """`count` tokens for every conversation, for the user of issue_token (one token per socket)."""
    raws = [TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in range(count)]
    with psycopg.connect(database) as conn, conn.cursor() as cursor:
        cursor.executemany(
            INSERT_TOKEN,
            [
                (hashlib.sha256(raw.encode()).hexdigest(), raw[: len(TOKEN_PREFIX) + 6], username)
                for raw in raws
            ],
        )
    return raws


def daphne_argv(app: str, port: int) -> list[str]:
    # -v 0: no access log line per request (the hub logs what it needs; so does the baseline).
    return [PYTHON, "-m", "daphne", "-v", "0", "-b", HOST, "-p", str(port), app]


def uvicorn_argv(app: str, port: int) -> list[str]:
    return [
        PYTHON, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), "--ws", "websockets",
        "--no-access-log", "--log-level", "warning", "--lifespan", "off",
    ]  # fmt: skip


def hub_argv(server: str, app: str = HUB_APP) -> Callable[[int], list[str]]:
    """The hub (or another ASGI `app`) under `server`: "daphne" or "uvicorn"."""
    if server not in HUB_SERVERS:
        raise ValueError(f"unknown server {server!r}; choose from {', '.join(HUB_SERVERS)}")
    if server == "uvicorn":
        return lambda port: uvicorn_argv(app, port)
    return lambda port: daphne_argv(app, port)


def module_argv(module: str, *args: str) -> Callable[[int], list[str]]:
    """`python -m module ARGS --port PORT`, for the baselines that are their own servers."""
    return lambda port: [PYTHON, "-m", module, *args, "--port", str(port)]


@dataclass
class Server:
    """A running server process and where its output goes."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://{HOST}:{self.port}{path}"

    def rss_kib(self) -> int:
        """Resident memory from /proc/<pid>/status (VmRSS, KiB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {self.name}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def output_tail(self, size: int = 3000) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-size:]


def _wait_serving(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{server.output_tail()}"
            )
        try:
            with socket.create_connection((HOST, server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not listen within {STARTUP_SECONDS}s:\n{server.output_tail()}")


@contextmanager
def running(name: str, argv: Callable[[int], list[str]], env: dict[str, str]) -> Iterator[Server]:
    """Start `argv(port)` on a spare port (from the repository root) and stop it afterwards."""
    port = free_port()
    with tempfile.TemporaryFile(prefix=f"bench-{name}-") as log:
        process = subprocess.Popen(  # noqa: S603 - this project's servers with fixed arguments
            argv(port), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        server = Server(name=name, port=port, process=process, log=log)
        try:
            _wait_serving(server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
