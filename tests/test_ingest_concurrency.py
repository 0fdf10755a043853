"""Parallel signed webhooks over real HTTP against PostgreSQL: one row per wamid, exact counters."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from store.models import WebhookEvent, WhatsAppConversation, WhatsAppMessage, WhatsAppMessageStatus
from tests.support import running_hub, signed_headers
from webhook.samples import encode, envelope, status_update, text_message

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMER = "16505551234"


async def post_all(base: str, bodies: list[bytes], concurrency: int) -> list[int]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def post(body: bytes) -> int:
            async with gate:
                response = await client.post(
                    "/api/whatsapp/webhook/", content=body, headers=signed_headers(body)
                )
                return response.status_code

        return await asyncio.gather(*(post(body) for body in bodies))


def test_parallel_posts_same_conversation_counters_exact() -> None:
    rng = random.Random(7)
    unique = 120
    inbound = [
        encode(envelope([text_message(f"wamid.PAR{i:05d}", CUSTOMER, f"message {i}", 1764000000 + i)]))
        for i in range(unique)
    ]
    # Statuses of an outbound message the hub does not know yet, in every order, some twice.
    statuses = [
        encode(envelope([status_update("wamid.OUT-PAR", CUSTOMER, s, 1764000100 + n)]))
        for n, s in enumerate(["sent", "delivered", "read", "delivered", "sent"])
    ]
    redelivered = rng.sample(inbound, k=unique // 5)
    bodies = inbound + redelivered + statuses
    rng.shuffle(bodies)
    with running_hub(HUB_DB_POOL_MAX="8") as base:
        codes = asyncio.run(post_all(base, bodies, concurrency=32))
    assert codes == [200] * len(bodies)
    assert WebhookEvent.objects.count() == len(bodies)
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 0
    assert WhatsAppMessage.objects.count() == unique
    conversation = WhatsAppConversation.objects.get()
    assert (conversation.message_count, conversation.unread_count) == (unique, unique)
    assert conversation.last_message_preview == f"message {unique - 1}"
    assert set(WhatsAppMessageStatus.objects.values_list("status", flat=True)) == {
        "sent",
        "delivered",
        "read",
    }
    assert WhatsAppMessageStatus.objects.count() == 3
