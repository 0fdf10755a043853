"""Scenario 2: Redis is killed in the middle of a load and started again.

The channel layer only carries news of what is committed: webhooks must keep answering 200 and storing,
connected subscribers must get every event from their process's log poll, and a client that reconnects
once Redis is back must replay what it missed with `after`. Nothing twice, nothing out of order.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from store.eventlog import last_seq
from store.models import HubEvent, WhatsAppMessage
from tests.realtime.helpers import make_token
from tests.reliability.clients import (
    Figures,
    SendStats,
    Subscriber,
    WebhookSender,
    check_stream,
    drain_to,
    percentile,
    run_subscribers,
    stop_subscribers,
    wait_until,
)
from tests.reliability.cluster import HubProcess, RedisServer, hubs, redis_available
from webhook import samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_available(), reason="redis-server not installed"),
]

POSTS = 300
KILL_AT, RESTART_AT = 100, 200
CUSTOMERS = [f"1555710{index:04d}" for index in range(6)]


def bodies() -> tuple[list[bytes], list[str]]:
    wamids = [f"wamid.redis.{uuid.uuid4().hex}" for _ in range(POSTS)]
    now = int(time.time())
    return [
        samples.encode(samples.envelope([samples.text_message(w, CUSTOMERS[i % 6], f"r{i}", now)]))
        for i, w in enumerate(wamids)
    ], wamids


def test_redis_killed_mid_load_webhooks_stay_200_and_subscribers_miss_nothing() -> None:
    token = make_token("redis-outage")
    posts, wamids = bodies()
    start = last_seq()
    redis = RedisServer().start()
    try:
        with hubs(2, REDIS_URL=redis.url) as servers:
            result = asyncio.run(outage(servers, redis, token, posts, start))
    finally:
        redis.stop()
    subscribers, stats, end, outage_latencies = result

    stored = WhatsAppMessage.objects.filter(message_id__in=wamids).count()
    created = HubEvent.objects.filter(seq__gt=start, type="message.created").count()
    checks = {s.name: check_stream(s.seqs, start, end) for s in subscribers}
    figures = Figures(
        "redis killed mid-load",
        sent=len(posts),
        stored=stored,
        delivered=sum(c.delivered for c in checks.values()),
        lost=sum(c.lost for c in checks.values()),
        duplicated=sum(c.duplicated for c in checks.values()),
        extra={
            "answers": dict(stats.answers),
            "events": end - start,
            "p99_ms": round(percentile(stats.latencies, 0.99) * 1000),
            "max_ms_while_down": round(max(outage_latencies, default=0) * 1000),
            "connects": {s.name: s.connects for s in subscribers},
        },
    )
    figures.report()

    assert dict(stats.answers) == {"200": len(posts)}, figures
    assert stored == len(posts), figures
    assert created == len(posts), figures
    for name, check in checks.items():
        assert check.lost == 0, (name, check, figures)
        assert check.duplicated == 0, (name, check, figures)
        assert check.in_order, (name, check, figures)


async def outage(
    servers: list[HubProcess], redis: RedisServer, token: str, posts: list[bytes], start: int
) -> tuple[list[Subscriber], SendStats, int, list[float]]:
    a, b = servers
    steady = [
        Subscriber("steady-a", [a.ws_base], token, after=start),
        Subscriber("steady-b", [b.ws_base], token, after=start),
    ]
    leaving = Subscriber("reconnecting-b", [b.ws_base], token, after=start)
    tasks = await run_subscribers([*steady, leaving])
    sender = WebhookSender([a.base, b.base], concurrency=8, interval=0.05)
    load = asyncio.create_task(sender.send_all(posts))

    await wait_until(lambda: sender.sent >= KILL_AT, 60)
    redis.kill()
    await stop_subscribers([leaving], tasks[-1:])
    down_from = len(sender.stats.latencies)
    await wait_until(lambda: sender.sent >= RESTART_AT, 60)
    outage_latencies = sender.stats.latencies[down_from:]
    redis.start()
    returning = Subscriber("returned-b", [b.ws_base], token, after=leaving.last_seq)
    tasks += await run_subscribers([returning])
    stats = await asyncio.wait_for(load, 120)

    subscribers = [*steady, returning]
    end = await drain_to(subscribers)
    await stop_subscribers(subscribers, [t for t in tasks if not t.done()])
    # The client that left and came back is judged on both of its connections together.
    merged = Subscriber("left-and-returned-b", [b.ws_base], token, after=start)
    merged.frames = leaving.frames + returning.frames
    merged.connects = leaving.connects + returning.connects
    for subscriber in steady:
        assert subscriber.connects == 1, f"{subscriber.name} was disconnected: {subscriber.close_codes}"
    return [*steady, merged], stats, end, outage_latencies
