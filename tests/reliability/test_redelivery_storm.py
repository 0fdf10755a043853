"""Scenario 1: a storm of signed webhooks, a fifth of them redelivered, statuses out of order, two servers.

Meta delivers at least once and in no particular order; the hub must store each message once, move every
status only forward, keep counters exact, and tell every inbox subscriber of each new message once, in
seq order, whichever server it is connected to.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import pytest

from store.actions.record import record_batch
from store.eventlog import last_seq
from store.models import HubEvent, WebhookEvent, WhatsAppConversation, WhatsAppMessage, WhatsAppMessageStatus
from tests import factories
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
)
from tests.reliability.cluster import HubProcess, hubs
from webhook import samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

TOTAL_POSTS = 2000
REDELIVERED = 400
CUSTOMERS = [f"1555700{index:04d}" for index in range(16)]
OUTBOUND_PER_CUSTOMER = 10
SENDERS = 32
STATUS_ORDER = ["sent", "delivered", "read"]


def record_outbound() -> dict[str, tuple[str, list[str]]]:
    """Outbound messages already in the hub: wamid -> (customer, the statuses Meta will send)."""
    plan: dict[str, tuple[str, list[str]]] = {}
    records = []
    for customer in CUSTOMERS:
        for index in range(OUTBOUND_PER_CUSTOMER):
            wamid = f"wamid.storm.out.{customer}.{index}"
            records.append(factories.outbound(customer, f"reply {index}", message_id=wamid))
            # Meta may never send `delivered` or `read`: a random prefix of the forward path.
            plan[wamid] = (customer, STATUS_ORDER[: random.randint(1, 3)])
    record_batch(factories.batch(*records))
    return plan


def build_bodies(
    outbound: dict[str, tuple[str, list[str]]],
) -> tuple[list[bytes], dict[str, str]]:
    """Unique signed bodies (inbound messages and every status), plus redeliveries, shuffled."""
    now = int(time.time())
    statuses = []
    for wamid, (customer, path) in outbound.items():
        for rank, status in enumerate(path):
            value = samples.status_update(wamid, customer, status, now + rank)
            statuses.append(samples.encode(samples.envelope([value])))
    inbound: dict[str, str] = {}
    unique = list(statuses)
    for index in range(TOTAL_POSTS - REDELIVERED - len(statuses)):
        customer = CUSTOMERS[index % len(CUSTOMERS)]
        wamid = f"wamid.storm.in.{index:05d}"
        inbound[wamid] = customer
        value = samples.text_message(wamid, customer, f"message {index}", now - 600 + index % 600)
        unique.append(samples.encode(samples.envelope([value])))
    bodies = unique + random.sample(unique, REDELIVERED)
    random.shuffle(bodies)
    return bodies, inbound


def test_redelivery_storm_two_processes_store_once_and_notify_once_in_order() -> None:
    random.seed(20260401)
    token = make_token("storm")
    outbound = record_outbound()
    bodies, inbound = build_bodies(outbound)
    start = last_seq()
    with hubs(2) as servers:
        started = time.monotonic()
        subscribers, stats, end = asyncio.run(storm(servers, token, bodies, start))
        elapsed = time.monotonic() - started

    messages = WhatsAppMessage.objects.filter(message_id__startswith="wamid.storm.")
    wamid_counts = Counter(messages.values_list("message_id", flat=True))
    final = dict(messages.filter(direction="outbound").values_list("message_id", "status"))
    wrong_status = {
        w: (final.get(w), path[-1]) for w, (_, path) in outbound.items() if final.get(w) != path[-1]
    }
    status_rows = WhatsAppMessageStatus.objects.filter(wamid__startswith="wamid.storm.").count()
    expected_status_rows = sum(len(path) for _, path in outbound.values())
    counters = {
        c.phone_number: (c.message_count, c.unread_count)
        for c in WhatsAppConversation.objects.filter(phone_number__in=CUSTOMERS)
    }
    per_customer = Counter(inbound.values())
    expected_counters = {c: (per_customer[c] + OUTBOUND_PER_CUSTOMER, per_customer[c]) for c in CUSTOMERS}
    created = list(
        HubEvent.objects.filter(seq__gt=start, type="message.created").values_list(
            "payload__message__message_id", flat=True
        )
    )
    checks = {s.name: check_stream(s.seqs, start, end) for s in subscribers}
    created_seen = {
        s.name: Counter(f.message_id for f in s.frames if f.type == "message.created") for s in subscribers
    }
    figures = Figures(
        "redelivery storm",
        sent=len(bodies),
        stored=len(wamid_counts) - len(outbound) + status_rows,
        delivered=sum(c.delivered for c in checks.values()),
        lost=sum(c.lost for c in checks.values()),
        duplicated=sum(c.duplicated for c in checks.values()),
        extra={
            "unique_bodies": len(set(bodies)),
            "webhook_rows": WebhookEvent.objects.count(),
            "answers": dict(stats.answers),
            "retried": stats.retried,
            "events": end - start,
            "p50_ms": round(percentile(stats.latencies, 0.5) * 1000),
            "p99_ms": round(percentile(stats.latencies, 0.99) * 1000),
            "seconds": round(elapsed, 1),
        },
    )
    figures.report()

    assert stats.acknowledged == len(bodies), figures
    assert not stats.given_up, figures
    assert max(wamid_counts.values()) == 1, figures
    assert len(wamid_counts) == len(inbound) + len(outbound), figures
    assert not wrong_status, (wrong_status, figures)
    assert status_rows == expected_status_rows, figures
    assert counters == expected_counters, figures
    assert Counter(created) == Counter(list(inbound)), figures
    assert WebhookEvent.objects.count() == len(bodies), figures
    assert not WebhookEvent.objects.filter(processed_at=None).exists(), figures
    for name, check in checks.items():
        assert check.lost == 0, (name, check, figures)
        assert check.duplicated == 0, (name, check, figures)
        assert check.in_order, (name, check, figures)
        assert created_seen[name] == Counter(list(inbound)), (name, figures)


async def storm(
    servers: list[HubProcess], token: str, bodies: list[bytes], start: int
) -> tuple[list[Subscriber], SendStats, int]:
    ws = [s.ws_base for s in servers]
    subscribers = [
        Subscriber(f"{server.name}{index}", [ws[k], *ws[:k], *ws[k + 1 :]], token, after=start)
        for k, server in enumerate(servers)
        for index in range(2)
    ]
    tasks = await run_subscribers(subscribers)
    sender = WebhookSender([s.base for s in servers], concurrency=SENDERS)
    await sender.send_all(bodies)
    end = await drain_to(subscribers)
    await stop_subscribers(subscribers, tasks)
    reconnects = sum(s.connects - 1 for s in subscribers)
    assert reconnects == 0, f"subscribers reconnected {reconnects} times during the storm"
    return subscribers, sender.stats, end
