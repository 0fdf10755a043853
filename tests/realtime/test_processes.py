"""Real sockets against daphne processes sharing the database; several processes talk over Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from store.models import HubEvent
from tests.realtime.helpers import ALICE, BOB, amake_token, arecord_messages, record_messages
from tests.support import free_port, running_hub, signed_headers
from webhook import samples

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

INBOX = "/ws/whatsapp/inbox/"


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://", 1) + path


async def open_socket(base: str, path: str, token: str) -> ClientConnection:
    return await connect(
        ws_url(base, path), additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
    )


async def receive_seqs(socket: ClientConnection, count: int, within: float = 10.0) -> list[int]:
    seqs = []
    for _ in range(count):
        frame = json.loads(await asyncio.wait_for(socket.recv(), within))
        seqs.append(frame["seq"])
    return seqs


async def assert_silent(socket: ClientConnection, seconds: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket.recv(), seconds)


async def post_messages(base: str, count: int, customer: str = ALICE) -> None:
    """Deliver `count` signed webhooks, one text message each, to the hub at `base`."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for index in range(count):
            value = samples.text_message(f"wamid.{uuid.uuid4().hex}", customer, f"t{index}", int(time.time()))
            body = samples.encode(samples.envelope([value]))
            response = await client.post("/api/whatsapp/webhook/", content=body, headers=signed_headers(body))
            assert response.status_code == 200, response.text


def contiguous(seqs: list[int]) -> bool:
    return seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@pytest.mark.asyncio
@pytest.mark.usefixtures("realtime_cleanup")
async def test_hub_process_socket_receives_events_committed_elsewhere() -> None:
    # Without Redis the process hears of nothing recorded here: its fan-out finds the events in the log.
    token = await amake_token()
    with running_hub() as base:
        socket = await open_socket(base, INBOX, token)
        seqs = await arecord_messages(3)
        assert await receive_seqs(socket, 3) == seqs
        await socket.close()


@pytest.mark.asyncio
@pytest.mark.usefixtures("realtime_cleanup")
async def test_hub_process_subprotocol_handshake_echoes_bearer() -> None:
    token = await amake_token()
    with running_hub() as base:
        async with connect(ws_url(base, INBOX), subprotocols=["bearer", token], open_timeout=10) as socket:  # type: ignore[list-item]
            assert socket.subprotocol == "bearer"
            await socket.send('{"type": "ping"}')
            assert json.loads(await asyncio.wait_for(socket.recv(), 5)) == {"type": "pong"}


@pytest.mark.asyncio
@pytest.mark.usefixtures("realtime_cleanup")
async def test_hub_process_refusal_reaches_client_as_close_code() -> None:
    with running_hub() as base:
        async with connect(ws_url(base, INBOX), open_timeout=10) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


@pytest.mark.asyncio
@pytest.mark.usefixtures("realtime_cleanup")
@pytest.mark.postgres
@pytest.mark.redis
async def test_two_processes_webhooks_posted_to_a_arrive_in_order_on_b() -> None:
    token = await amake_token()
    with running_hub() as a, running_hub() as b:
        await post_messages(a, 1, ALICE)
        inbox_b = await open_socket(b, INBOX, token)
        inbox_a = await open_socket(a, INBOX, token)
        alice_b = await open_socket(b, f"/ws/whatsapp/conversations/{ALICE}/", token)
        for _ in range(5):
            await post_messages(a, 2, ALICE)
            await post_messages(a, 1, BOB)
        on_b = await receive_seqs(inbox_b, 15)
        assert contiguous(on_b)
        assert await receive_seqs(inbox_a, 15) == on_b
        alice = await receive_seqs(alice_b, 10)
        assert alice == sorted(alice)
        assert set(alice) < set(on_b)
        await assert_silent(inbox_b)
        for socket in (inbox_a, inbox_b, alice_b):
            await socket.close()


@pytest.mark.asyncio
@pytest.mark.usefixtures("realtime_cleanup")
@pytest.mark.postgres
@pytest.mark.redis
async def test_two_processes_reconnect_with_after_gets_missed_events_exactly_once() -> None:
    token = await amake_token()
    with running_hub() as a, running_hub() as b:
        socket = await open_socket(b, INBOX, token)
        await post_messages(a, 5)
        seen = await receive_seqs(socket, 5)
        await socket.close()
        await post_messages(a, 50)
        # More events arrive while the reconnecting client replays.
        producer = asyncio.create_task(post_messages(a, 20, BOB))
        socket = await open_socket(b, f"{INBOX}?after={seen[-1]}", token)
        replayed = await receive_seqs(socket, 70, within=15)
        await asyncio.wait_for(producer, 30)
        assert replayed == list(range(seen[-1] + 1, seen[-1] + 71))
        await assert_silent(socket)
        await post_messages(a, 1)
        assert await receive_seqs(socket, 1) == [replayed[-1] + 1]
        await socket.close()


@contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip()
            != b"PONG"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("private redis did not start")
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.asyncio
@pytest.mark.usefixtures("realtime_cleanup")
@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
async def test_two_processes_redis_outage_clients_catch_up_from_log() -> None:
    token = await amake_token()
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    with (
        private_redis(port) as redis,
        running_hub(REDIS_URL=redis_url) as a,
        running_hub(REDIS_URL=redis_url) as b,
    ):
        connected = await open_socket(b, INBOX, token)
        await post_messages(a, 3)
        before = await receive_seqs(connected, 3)
        redis.terminate()
        redis.wait(timeout=10)
        # Redis is gone: the webhooks are still stored, and B's fan-out reads them from the log.
        await post_messages(a, 5)
        during = await receive_seqs(connected, 5)
        assert during == list(range(before[-1] + 1, before[-1] + 6))
        late = await open_socket(b, f"{INBOX}?after={before[-1]}", token)
        assert await receive_seqs(late, 5) == during
        with private_redis(port):
            await post_messages(a, 3)
            after = await receive_seqs(connected, 3)
            assert after == list(range(during[-1] + 1, during[-1] + 4))
            assert await receive_seqs(late, 3) == after
            rejoined = await open_socket(b, f"{INBOX}?after={before[0]}", token)
            assert await receive_seqs(rejoined, 10) == before[1:] + during + after
            for socket in (connected, late, rejoined):
                await assert_silent(socket)
                await socket.close()


@pytest.mark.postgres
def test_eventlog_concurrent_writers_seq_visible_in_commit_order() -> None:
    writers, per_writer = 4, 15
    done = threading.Event()
    failures: list[str] = []
    observed: list[int] = []

    def write(index: int) -> None:
        try:
            for _ in range(per_writer):
                record_messages(1, customer=f"1555000{index:04d}")
        finally:
            connection.close()

    def read() -> None:
        try:
            while True:
                finished = done.is_set()
                after = observed[-1] if observed else 0
                fresh = list(
                    HubEvent.objects.filter(seq__gt=after).order_by("seq").values_list("seq", flat=True)
                )
                if fresh and fresh != list(range(after + 1, after + 1 + len(fresh))):
                    failures.append(f"after {after} the log showed {fresh[:10]}")
                    return
                observed.extend(fresh)
                if finished:
                    return
        finally:
            connection.close()

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    reader.join(timeout=30)
    assert not failures
    assert observed == list(range(1, writers * per_writer + 1))
