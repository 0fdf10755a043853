"""A send's states against the fake Graph API over real HTTP: lost answers, the outbox, reconciliation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from outbound import send as send_module
from outbound.fake_graph import DEFAULT_TOKEN, Failure, FakeGraph
from outbound.handlers import HANDLERS
from outbound.send import send_message_for
from outbound.worker import Worker
from store import jobs
from store.actions.record import record_batch
from store.actions.send import SendOutcome
from store.auth import EVERYTHING, Principal
from store.models import Job, WhatsAppConversation, WhatsAppMessage
from tests.factories import BUSINESS, batch, inbound, status

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMER = "16505551234"


@pytest.fixture
def fake(settings: Settings) -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        settings.WHATSAPP_GRAPH_URL = server.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.WHATSAPP_PHONE_NUMBER_ID = BUSINESS.phone_number_id
        yield server


@pytest.fixture
def principal(db: None) -> Principal:
    return Principal(user=User.objects.create_user("agent"), scope=EVERYTHING)


def customer_wrote(minutes_ago: float = 5) -> None:
    record_batch(batch(inbound(CUSTOMER, at=datetime.now(UTC) - timedelta(minutes=minutes_ago))))


def send(principal: Principal, text: str = "Hi") -> SendOutcome:
    return async_to_sync(send_message_for)(principal, {"to": CUSTOMER, "text": text}, None)


async def run_worker(seconds: float = 3.0) -> None:
    """Run a worker until the queue is idle (or `seconds` pass), then stop it."""
    worker = Worker(HANDLERS, idle_seconds=0.05)
    task = asyncio.create_task(worker.run())
    deadline = asyncio.get_running_loop().time() + seconds
    while await sync_to_async(jobs.queue_depth)() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(task, 30)


def make_every_job_due() -> None:
    Job.objects.update(run_after=datetime.now(UTC), leased_until=datetime.now(UTC) - timedelta(seconds=1))


@pytest.mark.parametrize(
    "lost",
    [Failure(drop=True), Failure(code=131000, after_send=True), Failure(code=131016, after_send=True)],
    ids=["connection-dropped", "500-after-send", "503-after-send"],
)
def test_send_lost_answer_is_unknown_and_never_sent_again(
    fake: FakeGraph, principal: Principal, lost: Failure
) -> None:
    customer_wrote()
    fake.app.fail_next(lost)

    outcome = send(principal)
    make_every_job_due()
    async_to_sync(run_worker)()

    assert len(fake.app.sent) == 1
    assert outcome.status == 201
    assert outcome.message is not None
    assert outcome.message["status"] == "unknown"
    message = WhatsAppMessage.objects.get(direction="outbound")
    assert message.status == "unknown"
    assert Job.objects.get(kind="message.send").state == "done"


def test_send_read_timeout_is_unknown_and_never_sent_again(
    fake: FakeGraph, principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_wrote()
    monkeypatch.setattr(send_module, "SEND_TIMEOUT", httpx.Timeout(0.3))
    fake.app.fail_next(Failure(delay=1.0))

    outcome = send(principal)
    make_every_job_due()
    async_to_sync(run_worker)()

    assert len(fake.app.sent) == 1
    assert outcome.message is not None
    assert outcome.message["status"] == "unknown"


def test_send_connection_refused_is_retried_by_the_job_and_sent_once(
    fake: FakeGraph, principal: Principal, settings: Settings
) -> None:
    customer_wrote()
    settings.WHATSAPP_GRAPH_URL = "http://127.0.0.1:9"  # nothing listens: refused before any byte

    outcome = send(principal)
    assert outcome.message is not None
    assert outcome.message["status"] == "pending"
    settings.WHATSAPP_GRAPH_URL = fake.base_url
    make_every_job_due()
    async_to_sync(run_worker)()

    message = WhatsAppMessage.objects.get(direction="outbound")
    assert (message.status, message.message_id) == ("sent", fake.app.sent[0]["wamid"])
    assert len(fake.app.sent) == 1


def test_status_webhook_with_the_callback_data_reconciles_an_unknown_send(
    fake: FakeGraph, principal: Principal
) -> None:
    customer_wrote()
    fake.app.fail_next(Failure(drop=True))
    outcome = send(principal)
    assert outcome.message is not None
    sent = fake.app.sent[0]
    callback = sent["body"]["biz_opaque_callback_data"]

    delivered = replace(status(sent["wamid"], "delivered"), biz_opaque_callback_data=callback)
    record_batch(batch(delivered))

    message = WhatsAppMessage.objects.get(pk=outcome.message["id"])
    assert (message.message_id, message.status) == (sent["wamid"], "delivered")
    assert message.statuses.get().status == "delivered"


def test_send_cancelled_mid_call_still_finishes(fake: FakeGraph, principal: Principal) -> None:
    """A REST client that disconnects makes Django cancel the view; the send goes on to `sent`."""
    customer_wrote()
    fake.app.fail_next(Failure(delay=0.5))

    async def cancel_during_the_call() -> None:
        request = asyncio.create_task(send_message_for(principal, {"to": CUSTOMER, "text": "Hi"}, None))
        while not fake.app.sent:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        deadline = asyncio.get_running_loop().time() + 5
        # The detached send has no event to wait on: poll its job until it is finished.
        while asyncio.get_running_loop().time() < deadline:
            if not await Job.objects.filter(kind="message.send", state="running").aexists():
                break
            await asyncio.sleep(0.05)

    async_to_sync(cancel_during_the_call)()

    message = WhatsAppMessage.objects.get(direction="outbound")
    assert (message.status, message.message_id) == ("sent", fake.app.sent[0]["wamid"])
    assert Job.objects.get(kind="message.send").state == "done"


def test_send_whose_process_died_before_calling_meta_is_sent_by_a_worker(
    fake: FakeGraph, principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_wrote()

    async def process_dies(job: Job, message_pk: int) -> None:
        raise SystemExit  # stands for a process killed between storing the message and calling Meta

    monkeypatch.setattr(send_module, "run_send_now", process_dies)
    with pytest.raises(SystemExit):
        send(principal)
    monkeypatch.undo()
    assert WhatsAppMessage.objects.get(direction="outbound").status == "pending"

    make_every_job_due()
    async_to_sync(run_worker)()

    message = WhatsAppMessage.objects.get(direction="outbound")
    assert (message.status, message.message_id) == ("sent", fake.app.sent[0]["wamid"])
    assert len(fake.app.sent) == 1


def test_send_whose_process_died_during_the_call_becomes_unknown(
    fake: FakeGraph, principal: Principal
) -> None:
    customer_wrote()
    fake.app.fail_next(Failure(code=130429))  # the first call leaves the message pending for the job
    outcome = send(principal)
    assert outcome.message is not None
    # A worker began the call (recorded) and died before the answer: its lease runs out.
    WhatsAppMessage.objects.filter(pk=outcome.message["id"]).update(send_started_at=datetime.now(UTC))
    make_every_job_due()

    async_to_sync(run_worker)()

    assert WhatsAppMessage.objects.get(pk=outcome.message["id"]).status == "unknown"
    assert fake.app.sent == []


def test_delayed_retry_after_the_window_closed_fails_without_calling_meta(
    fake: FakeGraph, principal: Principal
) -> None:
    customer_wrote(minutes_ago=23 * 60 + 59)
    fake.app.fail_next(Failure(code=130429))
    outcome = send(principal)
    assert outcome.message is not None
    WhatsAppConversation.objects.update(last_inbound_at=datetime.now(UTC) - timedelta(hours=25))
    make_every_job_due()

    async_to_sync(run_worker)()

    message = WhatsAppMessage.objects.get(pk=outcome.message["id"])
    assert (message.status, message.error_code) == ("failed", 131047)
    assert fake.app.sent == []
    assert Job.objects.get(kind="message.send").state == "failed"
