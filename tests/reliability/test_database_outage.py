"""Scenario 3: the database is stopped in the middle of a load and started again.

A throwaway PostgreSQL cluster (initdb, pg_ctl, as the postgres user) on a spare port, the hub migrated
onto it. While it is down the webhook must answer 503 within a bounded time (Meta retries anything but a
200), nothing may be half-written, and once it is back Meta's redelivery stores everything exactly once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from typing import Any

import psycopg
import pytest

from tests.realtime.helpers import ALICE, BOB
from tests.reliability.clients import (
    Figures,
    SendStats,
    Subscriber,
    WebhookSender,
    check_stream,
    percentile,
    run_subscribers,
    stop_subscribers,
    wait_until,
)
from tests.reliability.cluster import HubProcess, PostgresCluster, postgres_available, wait_for
from tests.support import REPO_ROOT, hub_env
from webhook import samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not postgres_available(), reason="PostgreSQL server binaries not installed"),
]

POSTS = 200
STOP_AT, START_AT = 50, 120
# The pool's wait for a connection (HUB_DB_POOL_TIMEOUT) bounds a 503; the scenario sets it to 3 s.
POOL_TIMEOUT = 3
ANSWER_BOUND_SECONDS = 15.0
CUSTOMERS = [ALICE, BOB, "15557200001", "15557200002"]


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=5) as conn:
        return conn.execute(sql).fetchall()


def half_written(url: str) -> list[tuple[Any, ...]]:
    """Evidence of a partial write: a message without its event, an event without its message, counters
    that disagree with the rows, a stored webhook whose message exists while it is marked unprocessed."""
    return query(
        url,
        """
        SELECT 'message without event', m.message_id FROM whatsapp_whatsappmessage m
         WHERE NOT EXISTS (SELECT 1 FROM whatsapp_hubevent e WHERE e.type = 'message.created'
                           AND e.payload->'message'->>'message_id' = m.message_id)
        UNION ALL
        SELECT 'event without message', e.payload->'message'->>'message_id' FROM whatsapp_hubevent e
         WHERE e.type = 'message.created' AND NOT EXISTS (SELECT 1 FROM whatsapp_whatsappmessage m
                           WHERE m.message_id = e.payload->'message'->>'message_id')
        UNION ALL
        SELECT 'counter', c.phone_number FROM whatsapp_whatsappconversation c
         WHERE c.message_count <> (SELECT count(*) FROM whatsapp_whatsappmessage m
                                   WHERE m.conversation_id = c.id)
            OR c.unread_count <> (SELECT count(*) FROM whatsapp_whatsappmessage m
                                  WHERE m.conversation_id = c.id AND m.read_at IS NULL)
        UNION ALL
        SELECT 'duplicate seq', e.seq::text FROM whatsapp_hubevent e GROUP BY e.seq HAVING count(*) > 1
        """,
    )


def test_database_stopped_mid_load_answers_503_and_redelivery_stores_exactly_once() -> None:
    cluster = PostgresCluster().init()
    try:
        cluster.migrate()
        hub = HubProcess(
            "pg",
            env={"DATABASE_URL": cluster.url, "REDIS_URL": "", "HUB_DB_POOL_TIMEOUT": str(POOL_TIMEOUT)},
        )
        try:
            hub.start()
            run(cluster, hub)
        finally:
            hub.stop()
    finally:
        cluster.destroy()


def run(cluster: PostgresCluster, hub: HubProcess) -> None:
    token = issue_token_on(cluster)
    wamids = [f"wamid.pg.{uuid.uuid4().hex}" for _ in range(POSTS)]
    now = int(time.time())
    posts = [
        samples.encode(samples.envelope([samples.text_message(w, CUSTOMERS[i % 4], f"p{i}", now + i)]))
        for i, w in enumerate(wamids)
    ]
    recovery: list[float] = []
    outcome = asyncio.run(load_with_outage(cluster, hub, token, posts, recovery))
    first, during, partial, redelivery, subscriber = outcome
    stored = query(cluster.url, "SELECT count(*), count(DISTINCT message_id) FROM whatsapp_whatsappmessage")[
        0
    ]
    created = query(cluster.url, "SELECT count(*) FROM whatsapp_hubevent WHERE type = 'message.created'")[0][
        0
    ]
    partial_after = half_written(cluster.url)
    check = check_stream(subscriber.seqs, 0, created)
    answered_503 = [o for o in during if o[0] == "503"]
    figures = Figures(
        "database stopped mid-load",
        sent=len(posts) + len(posts),
        stored=stored[0],
        delivered=check.delivered,
        lost=check.lost,
        duplicated=check.duplicated + stored[0] - stored[1],
        extra={
            "first_pass": dict(first.answers),
            "redelivery": dict(redelivery.answers),
            "while_down": {a: sum(1 for o in during if o[0] == a) for a in sorted({o[0] for o in during})},
            "max_503_ms": round(max((o[2] for o in answered_503), default=0) * 1000),
            "p50_503_ms": round(percentile([o[2] for o in answered_503], 0.5) * 1000),
            "errors_until_s_after_restart": round(recovery[0], 1),
            "half_written": len(partial),
            "socket_connects": subscriber.connects,
            "close_codes": subscriber.close_codes,
        },
    )
    figures.report()

    assert answered_503, ("nothing answered 503 while the database was down", figures)
    assert {o[0] for o in during} <= {"503", "200"}, figures
    assert max(o[2] for o in during) < ANSWER_BOUND_SECONDS, figures
    assert not partial, (partial[:10], figures)
    assert not partial_after, (partial_after[:10], figures)
    assert dict(redelivery.answers) == {"200": len(posts)}, figures
    assert stored == (len(posts), len(posts)), figures
    assert created == len(posts), figures
    assert check.lost == 0, figures
    assert check.duplicated == 0, figures
    assert check.in_order, figures


def issue_token_on(cluster: PostgresCluster) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "issue_token", "dbagent"],
        cwd=REPO_ROOT,
        env=hub_env(DATABASE_URL=cluster.url, REDIS_URL=""),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode().strip().splitlines()[-1]


async def load_with_outage(
    cluster: PostgresCluster, hub: HubProcess, token: str, posts: list[bytes], recovery: list[float]
) -> tuple[SendStats, list[tuple[str, float, float]], list[tuple[Any, ...]], SendStats, Subscriber]:
    subscriber = Subscriber("pg-inbox", [hub.ws_base], token, after=0, max_backoff=2.0)
    tasks = await run_subscribers([subscriber])
    # One attempt per body: Meta's retries come later, after the outage (the redelivery pass).
    sender = WebhookSender([hub.base], concurrency=8, interval=0.03, retry_for=0)
    load = asyncio.create_task(sender.send_all(posts))
    await wait_until(lambda: sender.sent >= STOP_AT, 60)
    await asyncio.to_thread(cluster.stop, "fast")
    stopped_at = time.monotonic() - sender.origin
    await wait_until(lambda: sender.sent >= START_AT, 120)
    restarting_at = time.monotonic() - sender.origin
    await asyncio.to_thread(cluster.start)
    restarted_at = time.monotonic() - sender.origin
    first = await asyncio.wait_for(load, 120)
    during = [o for o in first.outcomes.values() if stopped_at <= o[1] < restarting_at]
    late = [
        o[1] + o[2] - restarted_at for o in first.outcomes.values() if o[0] != "200" and o[1] > restarted_at
    ]
    recovery.append(max(late, default=0.0))
    await asyncio.to_thread(wait_for, hub.base + "/api/ready/", 200, 30)
    partial = await asyncio.to_thread(half_written, cluster.url)
    # Meta redelivers whatever did not get a 200 (and, at least once, may redeliver anything).
    redelivery = await WebhookSender([hub.base], concurrency=8, retry_for=30).send_all(posts)
    rows = await asyncio.to_thread(query, cluster.url, "SELECT coalesce(max(seq), 0) FROM whatsapp_hubevent")
    end = rows[0][0]
    await wait_until(lambda: subscriber.last_seq >= end, 60)
    await asyncio.sleep(0.5)
    await stop_subscribers([subscriber], tasks)
    return first, during, partial, redelivery, subscriber
