"""The hub's sockets under uvicorn (the benchmarks run it there too): auth, close codes, replay, live."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from realtime.protocol import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from tests.realtime.helpers import amake_token, arecord_messages
from tests.support import REPO_ROOT, free_port, hub_env, stop_process, wait_until_serving

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

INBOX = "/ws/whatsapp/inbox/"


@contextmanager
def running_uvicorn() -> Iterator[str]:
    """Serve the hub with uvicorn in its own process; yields its ws:// base URL."""
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "asgi:application", "--host", "127.0.0.1", "--port", str(port),
        "--lifespan", "off", "--no-access-log",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=hub_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(f"http://127.0.0.1:{port}", process, log)
            yield f"ws://127.0.0.1:{port}"
        finally:
            stop_process(process)


async def close_code_of(url: str, **kwargs: object) -> int | None:
    async with connect(url, open_timeout=10, **kwargs) as socket:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 10)
        return socket.close_code


@pytest.mark.asyncio
@pytest.mark.usefixtures("realtime_cleanup")
async def test_uvicorn_sockets_authenticate_refuse_replay_and_stream() -> None:
    token = await amake_token()
    seqs = await arecord_messages(3)
    with running_uvicorn() as base:
        assert await close_code_of(base + INBOX) == CLOSE_UNAUTHENTICATED
        assert await close_code_of(base + INBOX + "?token=wah_wrong") == CLOSE_UNAUTHENTICATED
        missing = base + "/ws/whatsapp/conversations/15559990000/"
        assert await close_code_of(missing, additional_headers={"Authorization": f"Bearer {token}"}) == (
            CLOSE_NOT_FOUND
        )
        offered = [Subprotocol("bearer"), Subprotocol(token)]
        async with connect(f"{base}{INBOX}?after={seqs[0]}", subprotocols=offered, open_timeout=10) as socket:
            assert socket.subprotocol == "bearer"
            replayed = [json.loads(await asyncio.wait_for(socket.recv(), 10))["seq"] for _ in seqs[1:]]
            assert replayed == seqs[1:]
            live = await arecord_messages(2)
            received = [json.loads(await asyncio.wait_for(socket.recv(), 10))["seq"] for _ in live]
            assert received == live
            await socket.send('{"type": "ping"}')
            assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "pong"}
