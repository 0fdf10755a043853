"""Read receipts: queued with mark-read in its transaction, sent once per conversation, retried on failure."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from outbound.fake_graph import DEFAULT_TOKEN, Failure, FakeGraph, Reply
from outbound.receipts import send_read_receipt_job
from outbound.worker import PermanentFailure, RetryLater
from store import jobs
from store.actions.read import READ_RECEIPT_JOB, mark_read
from store.auth import EVERYTHING, issue_token
from store.models import Job, JobState
from tests.api.clients import make_client
from tests.api.data import ALICE_ID, BOB, CLINIC, SHOP, inbound, outbound, record

pytestmark = pytest.mark.django_db
Receipts = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def fake(settings: Settings) -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        settings.WHATSAPP_GRAPH_URL = server.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        yield server


@pytest.fixture
def receipts(fake: FakeGraph) -> list[tuple[str, dict[str, Any]]]:
    """(phone_number_id, body) of every read receipt the fake accepted; its `sent` lists messages only."""
    accepted: list[tuple[str, dict[str, Any]]] = []
    handle = fake.app.handle

    def recording(method: str, path: str, query: bytes, headers: Mapping[str, str], body: bytes) -> Reply:
        reply = handle(method, path, query, headers, body)
        decoded = json.loads(body) if body else {}
        if reply[0] == 200 and isinstance(decoded, dict) and decoded.get("status") == "read":
            accepted.append((path.split("/")[2], decoded))
        return reply

    fake.app.handle = recording  # type: ignore[method-assign]
    return accepted


@pytest.fixture
def unread(db: None) -> None:
    record(
        inbound("a1", minutes=0),
        inbound("a3", minutes=2),
        outbound("a4", minutes=3),
        inbound("b1", customer=BOB, minutes=4),
        inbound("d1", business=CLINIC, minutes=5),
    )


def run_receipt_job() -> Job:
    job = jobs.claim_next([READ_RECEIPT_JOB])
    assert job is not None
    async_to_sync(send_read_receipt_job)(job)
    jobs.complete(job)
    return job


def test_mark_read_queues_one_receipt_for_the_newest_inbound_message(unread: None) -> None:
    api = make_client(authorization=f"Bearer {issue_token(User.objects.create_user('agent'))}")
    response = api.post(
        "/api/whatsapp/mark-read/",
        {"phone_number": ALICE_ID, "business": SHOP.phone_number_id},
        content_type="application/json",
    )

    assert response.status_code == 200
    job = Job.objects.get(kind=READ_RECEIPT_JOB)
    assert job.payload == {"business": SHOP.phone_number_id, "wamid": "a3"}
    assert job.dedupe_key == "receipt:a3"


def test_read_receipt_job_sends_meta_read_status(receipts: Receipts, unread: None) -> None:
    mark_read(EVERYTHING, customer=ALICE_ID, business=SHOP.phone_number_id)

    run_receipt_job()

    assert receipts == [
        (SHOP.phone_number_id, {"messaging_product": "whatsapp", "status": "read", "message_id": "a3"})
    ]


def test_mark_read_again_queues_no_second_receipt(fake: FakeGraph, unread: None) -> None:
    mark_read(EVERYTHING, customer=ALICE_ID, business=SHOP.phone_number_id)
    mark_read(EVERYTHING, customer=ALICE_ID, business=SHOP.phone_number_id)
    mark_read(EVERYTHING, message_ids=["a3"])

    assert Job.objects.filter(kind=READ_RECEIPT_JOB).count() == 1


def test_mark_read_by_ids_queues_one_receipt_per_conversation(unread: None) -> None:
    mark_read(EVERYTHING, message_ids=["a1", "b1", "d1"])

    wamids = sorted(Job.objects.filter(kind=READ_RECEIPT_JOB).values_list("payload__wamid", flat=True))
    assert wamids == ["a1", "b1", "d1"]


def test_read_receipt_failure_is_retried_then_sent(fake: FakeGraph, receipts: Receipts, unread: None) -> None:
    mark_read(EVERYTHING, customer=ALICE_ID, business=SHOP.phone_number_id)
    fake.app.fail_next(Failure(code=131000))
    job = jobs.claim_next([READ_RECEIPT_JOB])
    assert job is not None

    with pytest.raises(RetryLater):
        async_to_sync(send_read_receipt_job)(job)
    assert jobs.retry_later(job, "Meta answered 500")
    Job.objects.filter(pk=job.pk).update(run_after=datetime.now(UTC))
    run_receipt_job()

    assert [body["message_id"] for _, body in receipts] == ["a3"]
    assert Job.objects.get(pk=job.pk).state == JobState.DONE


def test_read_receipt_refused_for_good_fails_the_job(fake: FakeGraph, unread: None) -> None:
    mark_read(EVERYTHING, customer=ALICE_ID, business=SHOP.phone_number_id)
    fake.app.fail_next(Failure(code=100))
    job = jobs.claim_next([READ_RECEIPT_JOB])
    assert job is not None

    with pytest.raises(PermanentFailure):
        async_to_sync(send_read_receipt_job)(job)


def test_read_receipt_without_access_token_fails_the_job(settings: Settings, unread: None) -> None:
    settings.WHATSAPP_ACCESS_TOKEN = None
    mark_read(EVERYTHING, customer=ALICE_ID, business=SHOP.phone_number_id)
    job = jobs.claim_next([READ_RECEIPT_JOB])
    assert job is not None

    with pytest.raises(PermanentFailure, match="WHATSAPP_ACCESS_TOKEN"):
        async_to_sync(send_read_receipt_job)(job)
