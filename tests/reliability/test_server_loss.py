"""Scenarios 4 and 6: a server process is killed (SIGKILL), or restarted one at a time (SIGTERM), under load.

Clients reconnect to the other process with `?after=` and must miss nothing; webhooks that a dying
process did not answer are retried by Meta (here: the sender) and stored exactly once. What daphne does
with in-flight requests and open sockets on SIGTERM is measured and printed.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections import Counter

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
    run_subscribers,
    stop_subscribers,
    wait_until,
)
from tests.reliability.cluster import HubProcess, hubs
from webhook import samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

CUSTOMERS = [f"1555730{index:04d}" for index in range(8)]
# How long a stopping server gets before SIGKILL (Kubernetes gives 30 s by default).
GRACE_SECONDS = 10.0


def make_posts(count: int, tag: str) -> tuple[list[bytes], list[str]]:
    wamids = [f"wamid.{tag}.{uuid.uuid4().hex}" for _ in range(count)]
    now = int(time.time())
    posts = [
        samples.encode(samples.envelope([samples.text_message(w, CUSTOMERS[i % 8], f"{tag} {i}", now)]))
        for i, w in enumerate(wamids)
    ]
    return posts, wamids


def subscribers_on(servers: list[HubProcess], token: str, start: int, per_server: int) -> list[Subscriber]:
    ws = [s.ws_base for s in servers]
    return [
        Subscriber(f"{server.name}{index}", [ws[k], *ws[:k], *ws[k + 1 :]], token, after=start)
        for k, server in enumerate(servers)
        for index in range(per_server)
    ]


def judge(
    name: str,
    wamids: list[str],
    subscribers: list[Subscriber],
    stats: SendStats,
    start: int,
    end: int,
    **extra: object,
) -> Figures:
    stored = Counter(
        WhatsAppMessage.objects.filter(message_id__in=wamids).values_list("message_id", flat=True)
    )
    created = HubEvent.objects.filter(seq__gt=start, type="message.created").count()
    checks = {s.name: check_stream(s.seqs, start, end) for s in subscribers}
    figures = Figures(
        name,
        sent=len(wamids),
        stored=sum(stored.values()),
        delivered=sum(c.delivered for c in checks.values()),
        lost=sum(c.lost for c in checks.values()),
        duplicated=sum(c.duplicated for c in checks.values()) + sum(n - 1 for n in stored.values()),
        extra={
            "answers": dict(stats.answers),
            "given_up": len(stats.given_up),
            "connects": {s.name: s.connects for s in subscribers},
            **extra,
        },
    )
    figures.report()
    assert not stats.given_up, figures
    assert set(stored) == set(wamids), figures
    assert max(stored.values()) == 1, figures
    assert created == len(wamids), figures
    for subscriber_name, check in checks.items():
        assert check.lost == 0, (subscriber_name, check, figures)
        assert check.duplicated == 0, (subscriber_name, check, figures)
        assert check.in_order, (subscriber_name, check, figures)
    return figures


def test_server_sigkilled_clients_reconnect_to_the_other_with_after_and_miss_nothing() -> None:
    token = make_token("sigkill")
    posts, wamids = make_posts(400, "kill")
    start = last_seq()
    with hubs(2) as servers:
        subscribers, stats, end = asyncio.run(kill_one(servers, token, posts, start))
    moved = [s for s in subscribers if s.name.startswith("a")]
    judge(
        "server SIGKILLed",
        wamids,
        subscribers,
        stats,
        start,
        end,
        close_codes_of_a={s.name: s.close_codes for s in moved},
    )
    assert all(s.connects >= 2 for s in moved)


async def kill_one(
    servers: list[HubProcess], token: str, posts: list[bytes], start: int
) -> tuple[list[Subscriber], SendStats, int]:
    a, _ = servers
    subscribers = subscribers_on(servers, token, start, per_server=3)
    tasks = await run_subscribers(subscribers)
    sender = WebhookSender([s.base for s in servers], concurrency=8, interval=0.02)
    load = asyncio.create_task(sender.send_all(posts))
    await wait_until(lambda: sender.sent >= len(posts) // 3, 60)
    a.kill()
    stats = await asyncio.wait_for(load, 180)
    end = await drain_to(subscribers)
    await stop_subscribers(subscribers, tasks)
    return subscribers, stats, end


@pytest.mark.long
def test_rolling_restart_sigterm_one_at_a_time_loses_nothing() -> None:
    token = make_token("rolling")
    posts, wamids = make_posts(600, "roll")
    start = last_seq()
    with hubs(2) as servers:
        subscribers, stats, end, shutdown = asyncio.run(roll(servers, token, posts, start))
    # What a server said while it was shutting down: its answers from SIGTERM until it exited.
    judge(
        "rolling restart",
        wamids,
        subscribers,
        stats,
        start,
        end,
        by_server={f"{b.rsplit(':', 1)[1]} {a}": n for (b, a), n in sorted(stats.by_server.items())},
        shutdown=shutdown,
        close_codes={s.name: s.close_codes for s in subscribers},
    )


async def roll(
    servers: list[HubProcess], token: str, posts: list[bytes], start: int
) -> tuple[list[Subscriber], SendStats, int, dict[str, object]]:
    subscribers = subscribers_on(servers, token, start, per_server=3)
    tasks = await run_subscribers(subscribers)
    sender = WebhookSender([s.base for s in servers], concurrency=8, interval=0.02)
    load = asyncio.create_task(sender.send_all(posts))
    shutdown: dict[str, object] = {}
    replacements: list[HubProcess] = []
    try:
        for index, server in enumerate(list(servers)):
            await wait_until(lambda: sender.sent >= len(posts) * (index + 1) // 3, 60)  # noqa: B023
            shutdown[server.name] = await terminate(server, sender)
            # The replacement takes the same port, as a restarted container would.
            replacements.append(HubProcess(server.name, port=server.port))
            await asyncio.to_thread(replacements[-1].start)
        stats = await asyncio.wait_for(load, 180)
        end = await drain_to(subscribers)
        await stop_subscribers(subscribers, tasks)
    finally:
        for replacement in replacements:
            replacement.stop()
    return subscribers, stats, end, shutdown


async def terminate(server: HubProcess, sender: WebhookSender) -> dict[str, object]:
    """SIGTERM `server` under load, SIGKILL after a grace period (as an orchestrator does); returns how
    it ended, how long it took and what the senders got meanwhile."""
    assert server.process is not None
    before = Counter(sender.stats.answers)
    began = time.monotonic()
    server.signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(server.process.wait, GRACE_SECONDS)
        ended = f"exit {server.process.returncode}"
    except subprocess.TimeoutExpired:
        server.kill()
        ended = f"still running after {GRACE_SECONDS}s: SIGKILL"
    took = time.monotonic() - began
    during = Counter(sender.stats.answers) - before
    server.stop()
    fault = "Segmentation fault" in server.output()
    return {"ended": ended, "segfault": fault, "seconds": round(took, 2), "answers_meanwhile": dict(during)}
