"""Scenario 6 under uvicorn: the hub's own drain on SIGTERM (hub/lifecycle.py) works whatever the server.

Uvicorn installs its own SIGTERM handler, which would stop listening, close every socket with 1012 and
wait for requests; the hub replaces it on the first request and hands the signal back once drained.
What is checked: `/api/ready/` answers 503 at once while everything else is still served, a webhook
whose body is still arriving when the drain ends is answered and stored before the process exits,
open sockets close with 4012 and new ones are refused with 4012; and a rolling restart of two uvicorn
processes under load loses and duplicates nothing.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

import httpx
import pytest
import websockets

from store.eventlog import last_seq
from store.models import WhatsAppMessage
from tests.realtime.helpers import make_token
from tests.reliability.clients import (
    INBOX,
    WEBHOOK,
    Figures,
    SendStats,
    Subscriber,
    WebhookSender,
    drain_to,
    run_subscribers,
    stop_subscribers,
    wait_until,
)
from tests.reliability.cluster import HubProcess, StartHub, hubs
from tests.reliability.test_server_loss import judge, make_posts, subscribers_on, terminate
from tests.support import signed_headers
from webhook import samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

DRAIN_SECONDS = 1.5
GRACE_SECONDS = 10.0
# The slow webhook's body arrives in pieces until well after the sockets are closed.
TRICKLE_PIECES, TRICKLE_PAUSE = 8, 0.5
ROLLING_POSTS = 300
DRAIN_ENV = {"HUB_DRAIN_SECONDS": str(DRAIN_SECONDS), "HUB_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS)}


@dataclass
class Drained:
    """What a client saw of one uvicorn process draining; seconds are counted from the SIGTERM."""

    ready_before: int = 0
    ready_draining: int = 0
    health_draining: int = 0
    refused_with: int = 0
    closed_with: int = 0
    socket_closed_s: float = 0.0
    slow_webhook: int = 0
    slow_webhook_answered_s: float = 0.0


def test_drain_uvicorn_sigterm_fails_readiness_answers_in_flight_and_closes_sockets_4012(
    start_hub: StartHub,
) -> None:
    token = make_token("drain-uvicorn")
    wamid = f"wamid.drain.uvicorn.{time.time_ns()}"
    hub = start_hub("drain", server="uvicorn", env=DRAIN_ENV)
    try:
        seen = asyncio.run(drive(hub, token, wamid))
        assert hub.process is not None
        exited = hub.process.wait(timeout=GRACE_SECONDS + 10)
    finally:
        hub.stop()
    stored = WhatsAppMessage.objects.filter(message_id=wamid).count()
    figures = Figures(
        "drain under uvicorn",
        sent=1,
        stored=stored,
        extra={**asdict(seen), "exit": exited, "segfault": "Segmentation fault" in hub.output()},
    )
    figures.report()
    assert seen.ready_before == 200, figures
    assert seen.ready_draining == 503, figures
    assert seen.health_draining == 200, figures
    assert seen.refused_with == 4012, figures
    assert seen.closed_with == 4012, figures
    assert seen.slow_webhook == 200, figures
    # The webhook's last byte came after the sockets had closed: the process waited for it.
    assert seen.slow_webhook_answered_s > seen.socket_closed_s, figures
    assert stored == 1, figures
    # Uvicorn's own handler ran last: it stopped the server, then re-raised SIGTERM to exit.
    assert exited == -signal.SIGTERM, figures


async def drive(hub: HubProcess, token: str, wamid: str) -> Drained:
    url = f"{hub.ws_base}{INBOX}"
    headers = {"Authorization": f"Bearer {token}"}
    seen = Drained()
    value = samples.text_message(wamid, "15557400001", "in flight at shutdown", int(time.time()))
    body = samples.encode(samples.envelope([value]))
    async with httpx.AsyncClient(base_url=hub.base, timeout=30) as client:
        seen.ready_before = (await client.get("/api/ready/")).status_code
        async with websockets.connect(url, additional_headers=headers) as socket:
            slow = asyncio.create_task(trickle(hub.base, body))
            await asyncio.sleep(0.2)
            began = time.monotonic()
            hub.signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            seen.ready_draining = (await client.get("/api/ready/")).status_code
            seen.health_draining = (await client.get("/api/health/")).status_code
            async with websockets.connect(url, additional_headers=headers) as late:
                seen.refused_with = await closed_by_server(late)
            seen.closed_with = await closed_by_server(socket)
            seen.socket_closed_s = round(time.monotonic() - began, 2)
            seen.slow_webhook = await slow
            seen.slow_webhook_answered_s = round(time.monotonic() - began, 2)
    return seen


async def trickle(base: str, body: bytes) -> int:
    """POST a signed webhook whose body arrives in pieces over a few seconds (a slow uplink)."""
    size = -(-len(body) // TRICKLE_PIECES)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]
            await asyncio.sleep(TRICKLE_PAUSE)

    headers = {**signed_headers(body), "Content-Length": str(len(body))}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(base + WEBHOOK, content=pieces(), headers=headers)
    return response.status_code


async def closed_by_server(socket: websockets.ClientConnection) -> int:
    """Read until the server closes; its close code (0 when it sent no close frame)."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), 10)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else 0


def test_drain_uvicorn_rolling_restart_sigterm_one_at_a_time_loses_nothing() -> None:
    token = make_token("rolling-uvicorn")
    posts, wamids = make_posts(ROLLING_POSTS, "uroll")
    start = last_seq()
    with hubs(2, (), server="uvicorn", **DRAIN_ENV) as servers:
        subscribers, stats, end, shutdown = asyncio.run(roll(servers, token, posts, start))
    figures = judge(
        "rolling restart under uvicorn",
        wamids,
        subscribers,
        stats,
        start,
        end,
        shutdown=shutdown,
        close_codes={s.name: s.close_codes for s in subscribers},
    )
    for name, ended in shutdown.items():
        assert isinstance(ended, dict), figures
        # Drained and exited on its own (uvicorn's handler re-raises SIGTERM once it has stopped).
        assert ended["ended"] == f"exit {-signal.SIGTERM}", (name, figures)
    # Every subscriber of a restarted process was told to go elsewhere with 4012, none saw 1012.
    for subscriber in subscribers:
        assert 4012 in subscriber.close_codes, (subscriber.name, figures)
        assert 1012 not in subscriber.close_codes, (subscriber.name, figures)


async def roll(
    servers: list[HubProcess], token: str, posts: list[bytes], start: int
) -> tuple[list[Subscriber], SendStats, int, dict[str, object]]:
    """SIGTERM each process in turn under load; a uvicorn replacement takes its port."""
    subscribers = subscribers_on(servers, token, start, per_server=2)
    tasks = await run_subscribers(subscribers)
    sender = WebhookSender([s.base for s in servers], concurrency=4, interval=0.1)
    load = asyncio.create_task(sender.send_all(posts))
    shutdown: dict[str, object] = {}
    replacements: list[HubProcess] = []
    try:
        for index, server in enumerate(list(servers)):
            await wait_until(lambda: sender.sent >= len(posts) * (index + 1) // 3, 60)  # noqa: B023
            shutdown[server.name] = await terminate(server, sender)
            replacements.append(HubProcess(server.name, port=server.port, server="uvicorn", env=DRAIN_ENV))
            await asyncio.to_thread(replacements[-1].start)
        stats = await asyncio.wait_for(load, 180)
        end = await drain_to(subscribers)
        await stop_subscribers(subscribers, tasks)
    finally:
        for replacement in replacements:
            replacement.stop()
    return subscribers, stats, end, shutdown
