"""Group commit: POSTs written in one transaction still get their own answers, and one bad body spares
the others."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from django.db import DataError

from store.actions.record import record_batch
from store.models import WebhookEvent, WhatsAppConversation, WhatsAppMessage
from store.records import IngestBatch
from tests.support import TEST_APP_SECRET, WEBHOOK_URL, hub_asgi_transport, signed_headers
from webhook import receive as receive_module
from webhook import samples
from webhook.group_commit import GroupCommit, use_group_commit
from webhook.ingest import batch_from_payload
from webhook.receive import Delivery, receive_updates
from webhook.signature import compute_signature

NOW = 1_790_000_000


def signed(payload: dict[str, Any]) -> Delivery:
    body = samples.encode(payload)
    return body, compute_signature(TEST_APP_SECRET, body)


def text(wamid: str, wa_id: str, body: str = "hello") -> dict[str, Any]:
    return samples.envelope([samples.text_message(wamid, wa_id, body, NOW)])


def signed_raw(body: bytes) -> Delivery:
    return body, compute_signature(TEST_APP_SECRET, body)


@pytest.mark.django_db
def test_posts_written_together_get_their_own_answers() -> None:
    first = signed(text("wamid.A", "15550001"))
    wrong_signature = (first[0], compute_signature("another-secret", first[0]))
    answers = receive_updates(
        [first, wrong_signature, signed_raw(b"not json"), first, signed(text("wamid.B", "15550002"))]
    )

    assert [a.status for a in answers] == [200, 403, 400, 200, 200]
    assert answers[2].body["error"] == "invalid_payload"
    # The redelivery in the same group is stored raw, and its message once.
    assert sorted(WhatsAppMessage.objects.values_list("message_id", flat=True)) == ["wamid.A", "wamid.B"]
    assert WhatsAppConversation.objects.get(phone_number="15550001").message_count == 1
    stored = list(WebhookEvent.objects.order_by("pk").values_list("processed_at", "error"))
    assert len(stored) == 4
    assert [processed is not None for processed, _ in stored] == [True, False, True, True]
    assert stored[1][1].startswith("not a WhatsApp webhook body")


@pytest.mark.django_db
def test_a_value_the_database_refuses_fails_only_its_own_post(monkeypatch: Any) -> None:
    real = record_batch

    def refusing_bad(batch: IngestBatch, **kwargs: Any) -> Any:
        if any(m.wamid == "wamid.BAD" for m in batch.messages):
            # What PostgreSQL raises for a value its column cannot hold, on every redelivery alike.
            raise DataError("integer out of range")
        return real(batch, **kwargs)

    monkeypatch.setattr("webhook.receive.record_batch", refusing_bad)
    answers = receive_updates(
        [
            signed(text("wamid.A", "15550001")),
            signed(text("wamid.BAD", "15550003")),
            signed(text("wamid.B", "15550002")),
        ]
    )

    # Acknowledged: Meta would redeliver it unchanged; the raw body is kept for reprocessing.
    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[1].body["status"] == "kept"
    assert sorted(WhatsAppMessage.objects.values_list("message_id", flat=True)) == ["wamid.A", "wamid.B"]
    kept = WebhookEvent.objects.get(error__startswith="not storable")
    assert b"wamid.BAD" in bytes(kept.body)


@pytest.mark.django_db
def test_a_failure_while_recording_keeps_the_body_and_spares_the_others(monkeypatch: Any) -> None:
    real = batch_from_payload

    def failing_on_bad(payload: Any) -> Any:
        batch = real(payload)
        if any(m.wamid == "wamid.BAD" for m in batch.messages):
            raise KeyError("unexpected shape")
        return batch

    monkeypatch.setattr("webhook.receive.batch_from_payload", failing_on_bad)
    answers = receive_updates([signed(text("wamid.BAD", "15550003")), signed(text("wamid.A", "15550001"))])

    assert [a.status for a in answers] == [200, 200]
    assert answers[0].body["status"] == "kept"
    assert list(WhatsAppMessage.objects.values_list("message_id", flat=True)) == ["wamid.A"]
    kept = WebhookEvent.objects.get(error="ingest failed: KeyError")
    assert kept.processed_at is None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_concurrent_posts_share_transactions_and_are_answered_after_commit(monkeypatch: Any) -> None:
    groups: list[int] = []
    real = receive_module.receive_verified_outside_request

    def counting(bodies: list[bytes]) -> list[Any]:
        groups.append(len(bodies))
        return real(bodies)

    monkeypatch.setattr("webhook.group_commit.receive_verified_outside_request", counting)
    commit = GroupCommit(max_group=8)

    async def post(index: int) -> tuple[int, bool]:
        answer = await commit.receive(*signed(text(f"wamid.{index}", f"1555{index:04d}")))
        # Answered only once committed: another connection sees the message at that moment.
        visible = await WhatsAppMessage.objects.filter(message_id=f"wamid.{index}").aexists()
        return answer.status, visible

    results = await asyncio.gather(*(post(i) for i in range(40)))

    assert results == [(200, True)] * 40
    assert sum(groups) == 40
    assert len(groups) < 40, groups
    assert max(groups) <= 8
    assert await WhatsAppMessage.objects.acount() == 40


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_only_signed_bodies_queue_and_a_full_queue_answers_503_at_once(monkeypatch: Any) -> None:
    gate = threading.Event()
    real = receive_module.receive_verified_outside_request

    def held(bodies: list[bytes]) -> list[Any]:
        gate.wait(10)  # the database is slow: the first group's transaction holds the writer
        return real(bodies)

    monkeypatch.setattr("webhook.group_commit.receive_verified_outside_request", held)
    commit = GroupCommit(writers=1, max_waiting=2)
    first = asyncio.create_task(commit.receive(*signed(text("wamid.first", "15550001"))))
    await asyncio.sleep(0.1)
    queued = [
        asyncio.create_task(commit.receive(*signed(text(f"wamid.q{i}", f"155500{i}2")))) for i in (1, 2)
    ]
    await asyncio.sleep(0.05)

    started = time.monotonic()
    full = await asyncio.wait_for(commit.receive(*signed(text("wamid.late", "15550009"))), 2)
    unsigned = await asyncio.wait_for(commit.receive(b"{" + b" " * (4 * 1024 * 1024 - 2) + b"}", None), 2)
    assert time.monotonic() - started < 1.5
    assert (full.status, full.retry_after) == (503, 5)
    assert unsigned.status == 403
    assert len(commit.waiting) == 2  # neither joined the queue

    gate.set()
    answers = await asyncio.gather(first, *queued)
    assert [a.status for a in answers] == [200, 200, 200]
    assert await WhatsAppMessage.objects.acount() == 3


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_endpoint_sends_retry_after_with_a_full_queue() -> None:
    async def post(body: bytes) -> httpx.Response:
        use_group_commit(GroupCommit(max_waiting=0))
        async with httpx.AsyncClient(transport=hub_asgi_transport(), base_url="http://testserver") as client:
            return await client.post(WEBHOOK_URL, content=body, headers=signed_headers(body))

    response = await post(samples.encode(text("wamid.busy", "15550001")))

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "busy"
