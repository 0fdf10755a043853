"""Auto-replies: each rule decided once inside ingest, queued durably, sent once through the send path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import async_to_sync
from pytest_django.fixtures import Settings

from outbound.autoreply import send_autoreply_job
from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph
from outbound.worker import PermanentFailure
from store import jobs
from store.actions.autoreply_rules import (
    AUTOREPLY_JOB,
    BusinessHoursError,
    CallAttempt,
    parse_business_hours,
    record_call_attempts,
)
from store.actions.record import record_batch
from store.models import Job, WhatsAppConversation, WhatsAppMessage
from store.records import MessageRecord
from tests.factories import BUSINESS, batch, inbound

pytestmark = pytest.mark.django_db
CUSTOMER = "16505551234"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def fake(settings: Settings) -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        settings.WHATSAPP_GRAPH_URL = server.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.HUB_AUTOREPLY_FIRST_CONTACT = "Welcome! An agent will answer shortly."
        settings.HUB_AUTOREPLY_OUT_OF_HOURS = None
        settings.HUB_AUTOREPLY_CALL = "We cannot take calls here; please write, or call +1 650 555 0000."
        settings.HUB_BUSINESS_HOURS = None
        yield server


def closed_now(settings: Settings) -> None:
    """Business hours that exclude the current moment: open only on a day two days from now."""
    day = DAYS[(datetime.now(UTC) + timedelta(days=2)).weekday()]
    settings.HUB_AUTOREPLY_OUT_OF_HOURS = "We are closed; we answer from 09:00."
    settings.HUB_BUSINESS_HOURS = f"{day} 09:00-10:00"
    settings.HUB_BUSINESS_TIMEZONE = "UTC"


def message(wa_id: str = CUSTOMER, minutes_ago: float = 1, **fields: object) -> MessageRecord:
    return inbound(wa_id, at=datetime.now(UTC) - timedelta(minutes=minutes_ago), **fields)  # type: ignore[arg-type]


def autoreply_jobs() -> list[Job]:
    return list(Job.objects.filter(kind=AUTOREPLY_JOB).order_by("pk"))


def run_job(job: Job) -> None:
    async_to_sync(send_autoreply_job)(job)


def claimed() -> Job:
    job = jobs.claim_next([AUTOREPLY_JOB])
    assert job is not None
    return job


def test_first_contact_is_queued_once_for_a_new_conversation(fake: FakeGraph) -> None:
    first = message()
    record_batch(batch(first))
    record_batch(batch(first))  # Meta redelivers
    record_batch(batch(message(minutes_ago=0.5)))  # the customer writes again

    queued = autoreply_jobs()
    conversation = WhatsAppConversation.objects.get(phone_number=CUSTOMER)
    assert [j.dedupe_key for j in queued] == [f"autoreply:first:{conversation.pk}"]
    assert queued[0].payload["rule"] == "first_contact"


def test_first_contact_job_sends_through_the_send_path_once(fake: FakeGraph) -> None:
    record_batch(batch(message()))
    job = claimed()

    run_job(job)
    run_job(job)  # the job runs again after a crash before it was completed

    assert [s["body"]["text"]["body"] for s in fake.app.sent] == ["Welcome! An agent will answer shortly."]
    reply = WhatsAppMessage.objects.get(direction="outbound")
    assert (reply.status, reply.from_name, reply.message_id) == (
        "sent",
        "auto-reply",
        fake.app.sent[0]["wamid"],
    )
    assert reply.conversation.message_count == 2


def test_first_contact_not_for_a_conversation_with_history(fake: FakeGraph) -> None:
    record_batch(batch(message(minutes_ago=60 * 30)))  # too old: no auto-reply, but history
    Job.objects.filter(kind=AUTOREPLY_JOB).delete()

    record_batch(batch(message()))

    assert autoreply_jobs() == []
    assert fake.app.sent == []


def test_no_autoreply_for_reactions_or_rules_off(fake: FakeGraph, settings: Settings) -> None:
    record_batch(batch(message(message_type="reaction", text="👍")))
    assert autoreply_jobs() == []
    settings.HUB_AUTOREPLY_FIRST_CONTACT = None
    record_batch(batch(message(wa_id="16505559999")))
    assert autoreply_jobs() == []


def test_out_of_hours_is_queued_once_per_period(fake: FakeGraph, settings: Settings) -> None:
    closed_now(settings)
    settings.HUB_AUTOREPLY_FIRST_CONTACT = None

    record_batch(batch(message(minutes_ago=2), message(minutes_ago=1)))
    record_batch(batch(message(minutes_ago=0.5)))

    queued = autoreply_jobs()
    assert len(queued) == 1
    assert queued[0].dedupe_key is not None
    assert queued[0].dedupe_key.startswith("autoreply:hours:")
    run_job(claimed())
    assert [s["body"]["text"]["body"] for s in fake.app.sent] == ["We are closed; we answer from 09:00."]


def test_out_of_hours_not_during_business_hours(fake: FakeGraph, settings: Settings) -> None:
    settings.HUB_AUTOREPLY_OUT_OF_HOURS = "Closed"
    settings.HUB_BUSINESS_HOURS = "mon-sun 00:00-24:00"
    settings.HUB_AUTOREPLY_FIRST_CONTACT = None

    record_batch(batch(message()))

    assert autoreply_jobs() == []


def test_first_contact_out_of_hours_queues_both(fake: FakeGraph, settings: Settings) -> None:
    closed_now(settings)

    record_batch(batch(message()))

    assert sorted(j.payload["rule"] for j in autoreply_jobs()) == ["first_contact", "out_of_hours"]


def test_call_attempt_reply_is_queued_once_per_call(fake: FakeGraph) -> None:
    record_batch(batch(message()))
    Job.objects.filter(kind=AUTOREPLY_JOB).delete()
    call = CallAttempt(
        business_phone_number_id=BUSINESS.phone_number_id,
        call_id="wacid.ABGGFjFVU2AfAgo6V",
        timestamp=datetime.now(UTC),
        wa_id=CUSTOMER,
    )

    assert record_call_attempts([call]) == 1
    assert record_call_attempts([call, replace(call, timestamp=datetime.now(UTC))]) == 0
    run_job(claimed())

    assert [s["body"]["text"]["body"] for s in fake.app.sent] == [
        "We cannot take calls here; please write, or call +1 650 555 0000."
    ]


def test_call_from_a_customer_who_never_wrote_opens_the_window_and_is_answered(fake: FakeGraph) -> None:
    called_at = datetime.now(UTC)
    call = CallAttempt(
        business_phone_number_id=BUSINESS.phone_number_id,
        call_id="wacid.NEW",
        timestamp=called_at,
        wa_id="16505550000",
    )
    assert record_call_attempts([call]) == 1
    conversation = WhatsAppConversation.objects.get(phone_number="16505550000")
    # Meta counts the 24-hour window from the customer's last message or call.
    assert conversation.last_inbound_at == called_at

    run_job(claimed())
    assert [s["body"]["to"] for s in fake.app.sent] == ["16505550000"]
    assert WhatsAppMessage.objects.filter(direction="outbound", conversation=conversation).count() == 1


def test_autoreply_with_sending_disabled_fails_the_job_and_stores_nothing(
    fake: FakeGraph, settings: Settings
) -> None:
    settings.WHATSAPP_ACCESS_TOKEN = None
    record_batch(batch(message()))

    with pytest.raises(PermanentFailure, match="disabled"):
        run_job(claimed())
    assert not WhatsAppMessage.objects.filter(direction="outbound").exists()


def test_business_hours_open_and_next_opening() -> None:
    hours = parse_business_hours("mon-fri 09:00-17:00; sat 10:00-13:00", "Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=berlin)
    saturday_night = datetime(2026, 11, 28, 22, 0, tzinfo=berlin)

    assert hours.is_open(datetime(2026, 11, 27, 9, 0, tzinfo=berlin))
    assert not hours.is_open(friday_evening)
    assert hours.next_opening(friday_evening) == datetime(2026, 11, 28, 10, 0, tzinfo=berlin)
    assert hours.next_opening(saturday_night) == datetime(2026, 11, 30, 9, 0, tzinfo=berlin)
    assert hours.next_opening(datetime(2026, 11, 28, 0, 5, tzinfo=berlin)) == hours.next_opening(
        friday_evening
    )


def test_business_hours_wrap_around_the_week() -> None:
    hours = parse_business_hours("sat-mon 08:00-12:00")

    assert sorted(hours.weekly) == [0, 5, 6]


@pytest.mark.parametrize(
    ("spec", "zone"),
    [
        ("weekdays 9-5", "UTC"),
        ("mon-fri 17:00-09:00", "UTC"),
        ("mon 09:00-25:00", "UTC"),
        ("mon 09:00-10:00", "Mars/Base"),
    ],
)
def test_business_hours_unreadable_is_an_error(spec: str, zone: str) -> None:
    with pytest.raises(BusinessHoursError):
        parse_business_hours(spec, zone)
