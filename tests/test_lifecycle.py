"""Graceful drain on SIGTERM: readiness fails first, requests are still answered, sockets close with 4012."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import httpx
import pytest
import websockets
from django.contrib.auth.models import User

from store.auth import issue_token
from tests.support import REPO_ROOT, free_port, hub_env, signed_headers, wait_until_serving
from webhook.samples import encode, envelope, text_message

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_sigterm_fails_readiness_then_closes_sockets_and_exits(tmp_path: object) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(f"{tmp_path}/hub.log", "w+b") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "asgi:application"],
            cwd=REPO_ROOT,
            env=hub_env(HUB_DRAIN_SECONDS="1.5", HUB_SHUTDOWN_GRACE_SECONDS="5"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_serving(base, process, log)
            token = issue_token(User.objects.create_user("drain-agent"))
            result = asyncio.run(drive_drain(base, port, process, token))
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    ready_during, webhook_during, close_code, refused_code = result
    assert ready_during == 503
    assert webhook_during == 200
    assert close_code == 4012
    assert refused_code == 4012
    assert process.returncode is not None


async def drive_drain(
    base: str, port: int, process: subprocess.Popen[bytes], token: str
) -> tuple[int, int, int, int]:
    url = f"ws://127.0.0.1:{port}/ws/whatsapp/inbox/"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get("/api/ready/")).status_code == 200
        async with websockets.connect(url, additional_headers=headers) as socket:
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            ready = (await client.get("/api/ready/")).status_code
            body = encode(
                envelope([text_message("wamid.DRAIN1", "16505551234", "still there?", int(time.time()))])
            )
            webhook = (
                await client.post("/api/whatsapp/webhook/", content=body, headers=signed_headers(body))
            ).status_code
            async with websockets.connect(url, additional_headers=headers) as late:
                refused = await closed_by_server(late)
            closed = await closed_by_server(socket)
    return ready, webhook, closed, refused


async def closed_by_server(socket: websockets.ClientConnection) -> int:
    """Read until the server closes; its close code (0 when it sent no close frame)."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 10)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else 0
