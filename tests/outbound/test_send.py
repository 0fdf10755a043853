"""Sending through the fake Graph API over real HTTP: the wire JSON, the window rule, Meta's answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from outbound import fake_graph as fake_graph_module
from outbound.fake_graph import DEFAULT_TOKEN, Failure, FakeGraph
from outbound.handlers import HANDLERS
from outbound.send import send_message_for
from outbound.worker import Worker
from store import jobs
from store.actions.record import record_batch
from store.actions.send import SendOutcome
from store.actions.send_result import record_sent
from store.auth import EVERYTHING, Principal
from store.models import HubEvent, Job, WhatsAppConversation, WhatsAppMessage, WhatsAppMessageStatus
from tests.factories import BUSINESS, batch, inbound, status

pytestmark = pytest.mark.django_db
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


def customer_wrote(minutes_ago: float = 5, wa_id: str = CUSTOMER) -> WhatsAppMessage:
    record = inbound(wa_id, at=datetime.now(UTC) - timedelta(minutes=minutes_ago))
    record_batch(batch(record))
    return WhatsAppMessage.objects.get(message_id=record.wamid)


def send(principal: Principal, body: dict[str, Any], key: str | None = None) -> SendOutcome:
    return async_to_sync(send_message_for)(principal, body, key)


def sent_bodies(fake: FakeGraph) -> list[dict[str, Any]]:
    """What reached the fake, without the per-send callback data (asserted on its own)."""
    return [
        {k: v for k, v in item["body"].items() if k != "biz_opaque_callback_data"} for item in fake.app.sent
    ]


def test_send_text_goes_out_in_meta_shape_and_is_recorded_sent(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()
    before = HubEvent.objects.count()

    outcome = send(principal, {"to": CUSTOMER, "text": "See https://example.com"})

    assert outcome.status == 201
    assert fake.app.sent[0]["phone_number_id"] == BUSINESS.phone_number_id
    assert fake.app.sent[0]["body"]["biz_opaque_callback_data"].startswith("pending:")
    assert sent_bodies(fake) == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CUSTOMER,
            "type": "text",
            "text": {"preview_url": True, "body": "See https://example.com"},
        }
    ]
    message = WhatsAppMessage.objects.get(direction="outbound")
    assert message.message_id == fake.app.sent[0]["wamid"]
    assert (message.status, message.text_body, message.from_name) == (
        "sent",
        "See https://example.com",
        "agent",
    )
    assert outcome.message is not None
    assert outcome.message["status"] == "sent"
    conversation = message.conversation
    assert (conversation.message_count, conversation.last_message_preview) == (2, "See https://example.com")
    events = list(HubEvent.objects.filter(seq__gt=before).order_by("seq"))
    assert [e.type for e in events] == ["message.created", "message.updated"]
    assert events[0].payload["message"]["status"] == "pending"
    assert events[0].payload["message"]["message_id"].startswith("pending:")
    assert events[1].payload["message"]["message_id"] == message.message_id


@pytest.mark.parametrize(
    ("body", "wire"),
    [
        (
            {"template": {"name": "order_update", "language": {"code": "en_US"}}},
            {"type": "template", "template": {"name": "order_update", "language": {"code": "en_US"}}},
        ),
        (
            {"media": {"type": "image", "link": "https://example.com/a.png", "caption": "Receipt"}},
            {"type": "image", "image": {"link": "https://example.com/a.png", "caption": "Receipt"}},
        ),
        (
            {"media": {"type": "document", "id": "1234", "filename": "invoice.pdf"}},
            {"type": "document", "document": {"id": "1234", "filename": "invoice.pdf"}},
        ),
        (
            {"location": {"latitude": 52.52, "longitude": 13.405, "name": "Shop"}},
            {"type": "location", "location": {"latitude": 52.52, "longitude": 13.405, "name": "Shop"}},
        ),
        (
            {
                "interactive": {
                    "type": "button",
                    "body": {"text": "Pick one"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]},
                }
            },
            {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "Pick one"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]},
                },
            },
        ),
    ],
)
def test_send_each_kind_has_meta_wire_json(
    fake: FakeGraph, principal: Principal, body: dict[str, Any], wire: dict[str, Any]
) -> None:
    customer_wrote()

    outcome = send(principal, {"to": CUSTOMER, **body})

    assert outcome.status == 201
    expected = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, **wire}
    assert sent_bodies(fake) == [expected]
    message = WhatsAppMessage.objects.get(direction="outbound")
    assert message.message_type == wire["type"]
    assert message.status == "sent"


@pytest.mark.parametrize("by", ["wamid", "hub id"])
def test_send_reply_to_becomes_meta_context(fake: FakeGraph, principal: Principal, by: str) -> None:
    original = customer_wrote()
    ref: str | int = original.message_id if by == "wamid" else original.pk

    outcome = send(principal, {"to": CUSTOMER, "text": "Sure", "reply_to": ref})

    assert outcome.status == 201
    assert sent_bodies(fake)[0]["context"] == {"message_id": original.message_id}
    assert WhatsAppMessage.objects.get(direction="outbound").reply_to == original.message_id


def test_send_reply_to_unknown_message_is_400_and_sends_nothing(
    fake: FakeGraph, principal: Principal
) -> None:
    customer_wrote()

    outcome = send(principal, {"to": CUSTOMER, "text": "Sure", "reply_to": "wamid.nope"})

    assert (outcome.status, outcome.error) == (400, "invalid_reply_to")
    assert fake.app.sent == []


def test_send_free_form_after_24_hours_is_refused_before_meta(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote(minutes_ago=25 * 60)

    outcome = send(principal, {"to": CUSTOMER, "text": "Hello again"})

    assert (outcome.status, outcome.error) == (409, "outside_customer_service_window")
    assert "template" in (outcome.detail or "")
    assert fake.app.sent == []
    assert not WhatsAppMessage.objects.filter(direction="outbound").exists()


def test_send_template_outside_window_is_allowed(fake: FakeGraph, principal: Principal) -> None:
    template = {"name": "hello_world", "language": {"code": "en_US"}}

    outcome = send(principal, {"to": CUSTOMER, "template": template})

    assert outcome.status == 201
    conversation = WhatsAppConversation.objects.get(phone_number=CUSTOMER)
    assert conversation.business_phone_number_id == BUSINESS.phone_number_id
    assert conversation.message_count == 1


def test_send_meta_131047_marks_failed_with_code_and_hint(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()
    fake.app.fail_next(Failure(code=131047))

    outcome = send(principal, {"to": CUSTOMER, "text": "Hi"})

    assert (outcome.status, outcome.error) == (409, "outside_customer_service_window")
    assert "template" in (outcome.detail or "")
    message = WhatsAppMessage.objects.get(direction="outbound")
    assert (message.status, message.error_code, message.error_title) == (
        "failed",
        131047,
        "Re-engagement message",
    )
    assert message.message_id.startswith("pending:")
    assert HubEvent.objects.order_by("-seq").first().payload["message"]["status"] == "failed"  # type: ignore[union-attr]


def test_send_meta_invalid_parameter_is_422(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()
    fake.app.fail_next(Failure(code=131009))

    outcome = send(principal, {"to": CUSTOMER, "text": "Hi"})

    assert (outcome.status, outcome.error) == (422, "meta_refused")
    assert outcome.message is not None
    assert outcome.message["error_code"] == 131009


@pytest.mark.django_db(transaction=True)
def test_send_throttled_is_queued_then_the_worker_sends_it(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()
    fake.app.fail_next(Failure(code=130429))

    outcome = send(principal, {"to": CUSTOMER, "text": "Hi"})

    assert outcome.status == 201
    assert outcome.message is not None
    assert outcome.message["status"] == "pending"
    assert fake.app.sent == []
    job = Job.objects.get(kind="message.send")
    assert job.dedupe_key == f"send:{outcome.message['id']}"
    assert job.run_after > datetime.now(UTC)
    Job.objects.filter(pk=job.pk).update(run_after=datetime.now(UTC))

    async_to_sync(run_worker_until_idle)()

    message = WhatsAppMessage.objects.get(direction="outbound")
    assert message.status == "sent"
    assert message.message_id == fake.app.sent[0]["wamid"]
    assert Job.objects.get(pk=job.pk).state == "done"


async def run_worker_until_idle(seconds: float = 10.0) -> None:
    worker = Worker(HANDLERS, idle_seconds=0.05)
    task = asyncio.create_task(worker.run())
    deadline = asyncio.get_running_loop().time() + seconds
    while await sync_to_async(jobs.queue_depth)() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(task, seconds)


def test_send_job_gives_up_after_max_attempts(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()
    fake.app.fail_next(Failure(code=131056, times=2))
    outcome = send(principal, {"to": CUSTOMER, "text": "Hi"})
    assert outcome.message is not None
    Job.objects.update(run_after=datetime.now(UTC), attempts=7, max_attempts=8)
    job = jobs.claim_next(["message.send"])
    assert job is not None

    with pytest.raises(Exception, match="gave up after 8 attempts"):
        async_to_sync(HANDLERS["message.send"])(job)

    message = WhatsAppMessage.objects.get(pk=outcome.message["id"])
    assert (message.status, message.error_code) == ("failed", 131056)


def test_send_status_webhooks_advance_the_sent_message(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()
    send(principal, {"to": CUSTOMER, "text": "Hi"})
    wamid = fake.app.sent[0]["wamid"]

    for offset, value in enumerate(("sent", "delivered", "read")):
        record_batch(batch(status(wamid, value, offset=offset)))

    message = WhatsAppMessage.objects.get(message_id=wamid)
    assert message.status == "read"
    assert set(message.statuses.values_list("status", flat=True)) == {"sent", "delivered", "read"}


def test_record_sent_links_and_applies_statuses_that_came_first(
    fake: FakeGraph, principal: Principal
) -> None:
    customer_wrote()
    fake.app.fail_next(Failure(code=130429))
    outcome = send(principal, {"to": CUSTOMER, "text": "Hi"})
    assert outcome.message is not None
    record_batch(batch(status("wamid.EARLY", "delivered")))

    message = record_sent(outcome.message["id"], wamid="wamid.EARLY", wa_id=CUSTOMER)

    assert message is not None
    assert (message.message_id, message.status) == ("wamid.EARLY", "delivered")
    assert WhatsAppMessageStatus.objects.get(wamid="wamid.EARLY").message_id == message.pk
    assert record_sent(message.pk, wamid="wamid.OTHER") == message  # a second answer changes nothing
    assert WhatsAppMessage.objects.get(pk=message.pk).message_id == "wamid.EARLY"


def test_send_same_idempotency_key_sends_once(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()

    first = send(principal, {"to": CUSTOMER, "text": "Hi"}, key="k-1")
    second = send(principal, {"to": CUSTOMER, "text": "Hi"}, key="k-1")
    other = send(principal, {"to": CUSTOMER, "text": "Hi"}, key="k-2")

    assert first.status == second.status == other.status == 201
    assert first.message is not None
    assert second.message is not None
    assert other.message is not None
    assert first.message["id"] == second.message["id"] != other.message["id"]
    assert len(fake.app.sent) == 2
    assert WhatsAppMessage.objects.get(pk=first.message["id"]).idempotency_key == f"u{principal.user.pk}:k-1"


def test_send_replay_of_a_refused_send_repeats_the_error(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()
    fake.app.fail_next(Failure(code=131026))

    first = send(principal, {"to": CUSTOMER, "text": "Hi"}, key="k")
    second = send(principal, {"to": CUSTOMER, "text": "Hi"}, key="k")

    assert first == second
    assert (first.status, first.error) == (422, "meta_refused")
    assert len(fake.app.sent) == 0


def test_send_typed_number_is_normalised_to_digits(fake: FakeGraph, principal: Principal) -> None:
    customer_wrote()

    outcome = send(principal, {"to": "+1 (650) 555-1234", "text": "Hi"})

    assert outcome.status == 201
    assert WhatsAppConversation.objects.count() == 1
    assert WhatsAppMessage.objects.get(direction="outbound").to_number == CUSTOMER


def test_send_conversation_follows_the_wa_id_meta_returns(
    fake: FakeGraph, principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_graph_module, "normalise_wa_id", lambda number: "5511987654321")
    template = {"name": "hello", "language": {"code": "pt_BR"}}

    send(principal, {"to": "551187654321", "template": template})

    conversation = WhatsAppConversation.objects.get()
    assert conversation.phone_number == "5511987654321"
    assert WhatsAppMessage.objects.get().to_number == "5511987654321"


def test_send_to_a_number_meta_knows_under_another_wa_id_moves_into_that_conversation(
    fake: FakeGraph, principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_wrote(wa_id="5511987654321")
    monkeypatch.setattr(fake_graph_module, "normalise_wa_id", lambda number: "5511987654321")
    template = {"name": "hello", "language": {"code": "pt_BR"}}

    outcome = send(
        principal, {"to": "551187654321", "business": BUSINESS.phone_number_id, "template": template}
    )

    real = WhatsAppConversation.objects.get(phone_number="5511987654321")
    typed = WhatsAppConversation.objects.get(phone_number="551187654321")
    assert outcome.message is not None
    assert outcome.message["conversation_id"] == real.pk
    assert (real.message_count, typed.message_count) == (2, 0)


def test_send_without_access_token_is_503_and_stores_nothing(
    settings: Settings, principal: Principal
) -> None:
    settings.WHATSAPP_ACCESS_TOKEN = None
    customer_wrote()

    outcome = send(principal, {"to": CUSTOMER, "text": "Hi"})

    assert (outcome.status, outcome.error) == (503, "sending_disabled")
    assert "WHATSAPP_ACCESS_TOKEN" in (outcome.detail or "")
    assert not WhatsAppMessage.objects.filter(direction="outbound").exists()


def test_send_invalid_body_is_400_with_the_payload_code(fake: FakeGraph, principal: Principal) -> None:
    outcome = send(principal, {"to": CUSTOMER, "text": "a", "template": {"name": "x"}})

    assert (outcome.status, outcome.error) == (400, "invalid_body")
