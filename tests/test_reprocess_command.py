"""`manage.py reprocess`: stored raw bodies fill the store once; a second run changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from store.models import HubEvent, WebhookEvent, WhatsAppConversation, WhatsAppMessage, WhatsAppMessageStatus
from tests.support import fixture_bytes
from webhook.payload import parse_webhook
from webhook.simulation import simulate

pytestmark = pytest.mark.django_db

COUNT = 60
SEED = 21


def reprocess(*args: str) -> str:
    out = StringIO()
    call_command("reprocess", *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def store_bodies() -> list[WebhookEvent]:
    """The simulator's bodies as the webhook stored them before an outage: some never processed, some
    marked with the error that stopped them, and two that are not WhatsApp webhooks at all."""
    events = [WebhookEvent.objects.create(body=item.body) for item in simulate(COUNT, seed=SEED)]
    for event in events[::7]:
        event.error = "database unavailable"
        event.save(update_fields=["error"])
    events.append(WebhookEvent.objects.create(body=b"not json"))
    events.append(WebhookEvent.objects.create(body=b'{"entry": []}'))
    return events


def expected_updates() -> tuple[set[str], set[tuple[str, str]]]:
    wamids: set[str] = set()
    statuses: set[tuple[str, str]] = set()
    for item in simulate(COUNT, seed=SEED):
        payload = parse_webhook(json.loads(item.body))
        wamids |= {m.wamid for m in payload.messages}
        statuses |= {(s.wamid, s.status_name) for s in payload.statuses}
    return wamids, statuses


def snapshot() -> dict[str, object]:
    return {
        "messages": sorted(
            WhatsAppMessage.objects.values_list("message_id", "status", "text_body", "media_status")
        ),
        "statuses": WhatsAppMessageStatus.objects.count(),
        "conversations": sorted(
            WhatsAppConversation.objects.values_list("pk", "message_count", "unread_count", "last_message_at")
        ),
        "events": HubEvent.objects.count(),
    }


def test_reprocess_fills_the_store_once_and_marks_events_as_the_webhook_does() -> None:
    events = store_bodies()
    summary = reprocess()
    assert summary.startswith(f"{COUNT + 2} events: {COUNT} recorded")
    assert "2 not WhatsApp webhooks, 0 database errors" in summary
    wamids, statuses = expected_updates()
    assert set(WhatsAppMessage.objects.values_list("message_id", flat=True)) == wamids
    assert set(WhatsAppMessageStatus.objects.values_list("wamid", "status")) == statuses
    assert HubEvent.objects.exists()
    good, bad = events[:-2], events[-2:]
    assert not WebhookEvent.objects.filter(pk__in=[e.pk for e in good], processed_at__isnull=True).exists()
    assert not WebhookEvent.objects.filter(pk__in=[e.pk for e in good]).exclude(error="").exists()
    for event in WebhookEvent.objects.filter(pk__in=[e.pk for e in bad]):
        assert event.processed_at is None
        assert event.error.startswith("not a WhatsApp webhook body")


def test_reprocess_twice_changes_nothing() -> None:
    store_bodies()
    reprocess()
    before = snapshot()
    summary = reprocess()
    assert summary.startswith(f"{COUNT + 2} events: {COUNT} recorded (0 with new events)")
    assert snapshot() == before


def test_reprocess_failed_takes_only_unprocessed_or_errored_events() -> None:
    events = store_bodies()
    reprocess()
    WebhookEvent.objects.filter(pk=events[3].pk).update(error="database unavailable")
    WebhookEvent.objects.filter(pk=events[4].pk).update(processed_at=None)
    # The two bodies that are not webhooks stay errored, so they are taken again too.
    assert reprocess("--failed").startswith("4 events: 2 recorded (0 with new events), 2 not WhatsApp")
    assert not WebhookEvent.objects.filter(pk__in=[events[3].pk, events[4].pk], processed_at=None).exists()
    assert WebhookEvent.objects.get(pk=events[3].pk).error == ""


def test_reprocess_by_id_and_since_narrow_the_selection() -> None:
    events = store_bodies()
    assert reprocess("--id", str(events[0].pk), str(events[1].pk)).startswith("2 events: 2 recorded")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert reprocess("--since", future).startswith("0 events")
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert reprocess("--failed", "--since", past).startswith(f"{COUNT} events")


@pytest.mark.parametrize("since", ["yesterday", "2026-01-31T12:00:00"])
def test_reprocess_since_needs_an_iso_time_with_a_zone(since: str) -> None:
    with pytest.raises(CommandError, match="--since"):
        call_command("reprocess", "--since", since, stdout=StringIO())


def test_reprocess_fills_content_of_messages_stored_without_it() -> None:
    WebhookEvent.objects.create(body=fixture_bytes("contacts.json"))
    reprocess()
    # As a row recorded before the hub kept content looks.
    WhatsAppMessage.objects.update(content={})
    before = HubEvent.objects.count()

    reprocess()

    (message,) = WhatsAppMessage.objects.all()
    assert [card["name"] for card in message.content["contacts"]] == ["Maria Lopez", "Sam"]
    updated = HubEvent.objects.filter(type="message.updated").get()
    assert updated.payload["message"]["content"] == message.content
    assert HubEvent.objects.count() == before + 1
    reprocess()
    assert HubEvent.objects.count() == before + 1
