"""Redis Sentinel: the primary is killed under load and Sentinel promotes its replica.

Two uvicorn processes find the primary through three redis-sentinel processes (REDIS_SENTINELS). One takes
the webhooks, both hold sockets, so every event crosses Redis. While no primary answers, webhooks must
stay 200 and the log poll feeds the sockets; once the replica is promoted, the layer must carry the news
again (readiness answers 200, deliveries are back under the poll's second) within 10 s of the kill.
Nothing twice, nothing out of order, no socket dropped.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from store.eventlog import last_seq
from store.models import HubEvent, WhatsAppMessage
from tests.conftest import REQUIRE_SERVICES
from tests.realtime.helpers import make_token
from tests.reliability.clients import (
    Figures,
    SendStats,
    Subscriber,
    WebhookSender,
    check_stream,
    drain_to,
    run_subscribers,
    stop_subscribers,
    wait_until,
)
from tests.reliability.cluster import HubProcess, hubs, redis_available, wait_for
from tests.reliability.sentinels import SentinelGroup, ensure_redis_sentinel, sentinel_group
from webhook import samples

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

POSTS = 300
KILL_AT = 60
LIVE_WITHIN = 10.0
# The log poll delivers what the layer lost a poll (1 s) late or more; the layer itself in milliseconds.
LAYER_MEDIAN_SECONDS = 0.5
CUSTOMERS = [f"1555740{index:04d}" for index in range(6)]


@dataclass
class Failover:
    subscribers: list[Subscriber]
    stats: SendStats
    end: int
    # The sender's clock origin: post times in `stats.outcomes` count from it.
    origin: float
    killed_at: float
    promoted_after: float
    layer_back_after: dict[str, float]


@pytest.fixture
def sentinels() -> Iterator[SentinelGroup]:
    if not (redis_available() and ensure_redis_sentinel()):
        message = "redis-server and redis-sentinel are needed (apt-get install redis-sentinel)"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}: required by HUB_REQUIRE_SERVICES")
        pytest.skip(message)
    with sentinel_group() as group:
        yield group


def bodies() -> tuple[list[bytes], list[str]]:
    wamids = [f"wamid.sentinel.{uuid.uuid4().hex}" for _ in range(POSTS)]
    now = int(time.time())
    return [
        samples.encode(samples.envelope([samples.text_message(w, CUSTOMERS[i % 6], f"s{i}", now)]))
        for i, w in enumerate(wamids)
    ], wamids


def test_sentinel_primary_killed_mid_load_replica_takes_over_nothing_lost_live_within_10s(
    sentinels: SentinelGroup,
) -> None:
    token = make_token("sentinel-failover")
    posts, wamids = bodies()
    start = last_seq()
    with hubs(2, (), server="uvicorn", **sentinels.hub_env()) as servers:
        run = asyncio.run(failover(sentinels, servers, token, posts, start))

    stored = WhatsAppMessage.objects.filter(message_id__in=wamids).count()
    created = HubEvent.objects.filter(seq__gt=start, type="message.created").count()
    checks = {s.name: check_stream(s.seqs, start, run.end) for s in run.subscribers}
    posted_at = {w: run.origin + run.stats.outcomes[body][1] for w, body in zip(wamids, posts, strict=True)}
    live_again = {s.name: first_new_frame_after(s, posted_at, run.killed_at) for s in run.subscribers}
    back = max(run.layer_back_after.values())
    after_back = {s.name: median_latency(s, posted_at, run.killed_at + back) for s in run.subscribers}
    figures = Figures(
        "sentinel failover",
        sent=len(posts),
        stored=stored,
        delivered=sum(c.delivered for c in checks.values()),
        lost=sum(c.lost for c in checks.values()),
        duplicated=sum(c.duplicated for c in checks.values()),
        extra={
            "answers": dict(run.stats.answers),
            "promoted_after_s": shown(run.promoted_after),
            "layer_back_after_s": {k: shown(v) for k, v in run.layer_back_after.items()},
            "live_again_after_s": {k: shown(v) for k, v in live_again.items()},
            "median_latency_after_back_ms": {k: shown(v * 1000, 0) for k, v in after_back.items()},
            "connects": {s.name: s.connects for s in run.subscribers},
        },
    )
    figures.report()

    assert sentinels.primary_port() == sentinels.replica.port, figures
    assert dict(run.stats.answers) == {"200": len(posts)}, figures
    assert stored == created == len(posts), figures
    for name, check in checks.items():
        assert (check.lost, check.duplicated, check.in_order) == (0, 0, True), (name, check, figures)
    assert all(s.connects == 1 for s in run.subscribers), figures
    assert back <= LIVE_WITHIN, figures
    assert all(seconds <= LIVE_WITHIN for seconds in live_again.values()), figures
    assert all(seconds < LAYER_MEDIAN_SECONDS for seconds in after_back.values()), figures


def shown(seconds: float, digits: int = 2) -> float | str:
    return round(seconds, digits) if seconds != float("inf") else "never"


def first_new_frame_after(subscriber: Subscriber, posted_at: dict[str, float], moment: float) -> float:
    """Seconds from `moment` until `subscriber` got a message posted after it (inf if none came)."""
    arrivals = [
        f.at for f in subscriber.frames if f.message_id in posted_at and posted_at[f.message_id] > moment
    ]
    return min(arrivals, default=float("inf")) - moment


def median_latency(subscriber: Subscriber, posted_at: dict[str, float], since: float) -> float:
    """Median seconds from post to frame for messages posted after `since` (inf if none)."""
    latencies = [
        f.at - posted_at[f.message_id]
        for f in subscriber.frames
        if f.message_id in posted_at and posted_at[f.message_id] >= since
    ]
    return statistics.median(latencies) if latencies else float("inf")


async def layer_back(server: HubProcess, killed_at: float, within: float = 30.0) -> float:
    """Seconds from the kill until `/api/ready/` (a round trip through the layer) answers 200 again,
    counting only after it has failed once, so an answer from before the kill took effect is not one."""
    failed = False
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < killed_at + within:
            try:
                status = (await client.get(server.base + "/api/ready/")).status_code
            except httpx.HTTPError:
                status = 0
            if status == 200 and failed:
                return time.monotonic() - killed_at
            failed = failed or status != 200
            await asyncio.sleep(0.1)
    return float("inf")


async def failover(
    group: SentinelGroup, servers: list[HubProcess], token: str, posts: list[bytes], start: int
) -> Failover:
    ingest = servers[0]
    for server in servers:
        await asyncio.to_thread(wait_for, server.base + "/api/ready/", 200, 30)
    subscribers = [
        Subscriber(f"{server.name}{index}", [server.ws_base], token, after=start)
        for server in servers
        for index in range(2)
    ]
    tasks = await run_subscribers(subscribers)
    sender = WebhookSender([ingest.base], concurrency=2, interval=0.08)
    load = asyncio.create_task(sender.send_all(posts))

    await wait_until(lambda: sender.sent >= KILL_AT, 60)
    killed_at = time.monotonic()
    group.primary.kill()
    watchers = [asyncio.create_task(layer_back(server, killed_at)) for server in servers]
    promoted = await wait_until(lambda: group.primary_port() == group.replica.port, 30)
    promoted_after = time.monotonic() - killed_at if promoted else float("inf")
    layer_back_after = dict(zip((s.name for s in servers), await asyncio.gather(*watchers), strict=True))
    stats = await asyncio.wait_for(load, 120)
    end = await drain_to(subscribers)
    await stop_subscribers(subscribers, tasks)
    return Failover(subscribers, stats, end, sender.origin, killed_at, promoted_after, layer_back_after)
