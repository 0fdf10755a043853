"""Scenario 8: three server processes hold 500 idle sockets each; database connections stay bounded.

PostgreSQL connections of the hub processes (told apart by PGAPPNAME) are counted from pg_stat_activity
all along and must stay within processes x HUB_DB_POOL_MAX, however many sockets are open; the sockets
stay live (a few webhooks reach all of them). A frame over daphne's message limit (1 MiB, its
`--websocket-max-message-size` default; the hub sets none of its own) closes that socket only: the
connection is dropped without a close frame, so the client sees 1006, not 1009.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from store.eventlog import last_seq
from tests.realtime.helpers import make_token
from tests.reliability.clients import INBOX, Figures, WebhookSender
from tests.reliability.cluster import HubProcess, hubs
from webhook import samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

PROCESSES, SOCKETS_PER_PROCESS, POOL_MAX = 3, 500, 4
HOLD_SECONDS = 60
POSTS = 5
OVERSIZE = 2 * 1024 * 1024


def hub_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name LIKE 'hub-%%'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def sample_connections() -> int:
    try:
        return hub_connections()
    finally:
        connection.close()


async def hold(socket: ClientConnection, counts: dict[int, int], key: int) -> None:
    try:
        async for _ in socket:
            counts[key] += 1
    except ConnectionClosed:
        pass


async def open_many(hub: HubProcess, token: str, count: int) -> list[ClientConnection]:
    gate = asyncio.Semaphore(40)

    async def one() -> ClientConnection:
        async with gate:
            return await connect(
                hub.ws_base + INBOX, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60
            )

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def exercise(servers: list[HubProcess], token: str) -> dict[str, object]:
    began = time.monotonic()
    sockets: list[ClientConnection] = []
    for server in servers:
        sockets += await open_many(server, token, SOCKETS_PER_PROCESS)
    opened = time.monotonic() - began
    counts = dict.fromkeys(range(len(sockets)), 0)
    readers = [asyncio.create_task(hold(s, counts, i)) for i, s in enumerate(sockets)]
    samples_taken: list[int] = []
    deadline = time.monotonic() + HOLD_SECONDS
    posted = False
    while time.monotonic() < deadline:
        samples_taken.append(await asyncio.to_thread(sample_connections))
        if not posted and time.monotonic() > deadline - HOLD_SECONDS / 2:
            now = int(time.time())
            bodies = [
                samples.encode(
                    samples.envelope(
                        [samples.text_message(f"wamid.idle.{uuid.uuid4().hex}", "15557600001", "hi", now)]
                    )
                )
                for _ in range(POSTS)
            ]
            await WebhookSender([s.base for s in servers], concurrency=2).send_all(bodies)
            posted = True
        await asyncio.sleep(2)
    await asyncio.sleep(3)
    reached = sum(1 for n in counts.values() if n >= POSTS)
    # One socket of the first process sends a frame over the limit; its neighbours must not notice.
    victim, neighbour = sockets[0], sockets[1]
    await victim.send("x" * OVERSIZE)
    await asyncio.wait_for(readers[0], 10)
    victim_code = victim.close_code
    await neighbour.send(json.dumps({"type": "ping"}))
    await asyncio.sleep(1)
    neighbour_open = neighbour.close_code is None
    still_open = sum(1 for s in sockets if s.close_code is None)
    for socket in sockets:
        await socket.close()
    await asyncio.gather(*readers, return_exceptions=True)
    return {
        "open_seconds": round(opened, 1),
        "max_db_connections": max(samples_taken),
        "db_samples": len(samples_taken),
        "sockets_reached": reached,
        "oversize_close_code": victim_code,
        "neighbour_open": neighbour_open,
        "still_open_after_oversize": still_open,
    }


def test_idle_sockets_keep_db_connections_within_pools_and_oversize_frame_closes_one() -> None:
    token = make_token("idle")
    start = last_seq()
    with hubs(PROCESSES, HUB_DB_POOL_MAX=str(POOL_MAX), HUB_DB_POOL_MIN="1") as servers:
        outcome = asyncio.run(exercise(servers, token))
        rss = {s.name: s.rss_kib() for s in servers}
    total = PROCESSES * SOCKETS_PER_PROCESS
    figures = Figures(
        "bounded resources",
        sent=POSTS,
        stored=last_seq() - start,
        delivered=int(str(outcome["sockets_reached"])) * POSTS,
        lost=(total - int(str(outcome["sockets_reached"]))) * POSTS,
        extra={**outcome, "sockets": total, "pool_bound": PROCESSES * POOL_MAX, "rss_kib": rss},
    )
    figures.report()

    assert outcome["max_db_connections"] <= PROCESSES * POOL_MAX, figures  # type: ignore[operator]
    assert outcome["sockets_reached"] == total, figures
    # Autobahn drops the connection (the client sees 1006) rather than closing it with 1009.
    assert outcome["oversize_close_code"] in (1006, 1009), figures
    assert outcome["neighbour_open"], figures
    assert outcome["still_open_after_oversize"] == total - 1, figures
