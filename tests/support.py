"""Helpers shared by the tests: signing, free ports, starting real server processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection

from webhook.samples import encode
from webhook.signature import compute_signature

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures"
TEST_APP_SECRET = "test-app-secret"
TEST_VERIFY_TOKEN = "test-verify-token"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / "webhooks" / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_bytes(name))
    return data


def signed_headers(body: bytes, secret: str = TEST_APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": compute_signature(secret, body), "Content-Type": "application/json"}


WEBHOOK_URL = "/api/whatsapp/webhook/"


def hub_asgi_transport() -> httpx.ASGITransport:
    """httpx's ASGI transport into the hub's HTTP app (hub/asgi.py), as a server would call it."""
    from hub.asgi import http_application

    return httpx.ASGITransport(app=cast("Any", http_application))


class HubTransport(httpx.BaseTransport):
    """A synchronous httpx transport into the hub's ASGI HTTP app: webhook POSTs take the one path
    production takes (size guard, ASGI endpoint, signature, group commit).

    `in_caller_thread` writes on the calling thread, in its connection and transaction (a test's
    `django_db` transaction sees the rows, and they roll back with it).
    """

    def __init__(self, *, in_caller_thread: bool = True) -> None:
        self.in_caller_thread = in_caller_thread

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return async_to_sync(self._handle)(request)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        from webhook.group_commit import GroupCommit, use_group_commit

        use_group_commit(GroupCommit(in_caller_thread=self.in_caller_thread))
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=request.read()
        )
        response = await hub_asgi_transport().handle_async_request(forwarded)
        content = b"".join([chunk async for chunk in response.aiter_raw()])
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def post_webhook(body: bytes, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """POST `body` to the webhook through the hub's one POST path, signed unless `headers` say otherwise."""
    with httpx.Client(transport=HubTransport(), base_url="http://testserver") as client:
        return client.post(
            WEBHOOK_URL, content=body, headers=signed_headers(body) if headers is None else headers
        )


def dumps_like_meta(payload: Mapping[str, Any]) -> bytes:
    """Meta's serialization: compact, non-ASCII escaped as \\uXXXX."""
    return encode(payload)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_database_url() -> str:
    """A DATABASE_URL naming the database the current test run uses (the pytest-django test copy)."""
    db = settings.DATABASES["default"]
    name = connection.settings_dict["NAME"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{name}"
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{name}"


def hub_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="hub.settings",
        DATABASE_URL=test_database_url(),
        DJANGO_DEBUG="1",
        WHATSAPP_APP_SECRET=TEST_APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=TEST_VERIFY_TOKEN,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@contextmanager
def running_hub(port: int | None = None, **env: str) -> Iterator[str]:
    """Serve the hub with daphne in its own process; yields its base URL and stops it afterwards."""
    port = port or free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "asgi:application"],
            cwd=REPO_ROOT,
            env=hub_env(**env),
            # A file, not a pipe: a pipe nobody reads would block the server once it fills.
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, process, log)
            yield base
        except BaseException:
            # A failing test shows what the server said (its last lines): the why of a 5xx is there.
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-20_000:])
            raise
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_serving(
    base: str, process: subprocess.Popen[bytes], log: IO[bytes], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"hub exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{base}/api/health/", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"hub at {base} did not start within {timeout}s")
