"""Statuses move only the business's messages; a customer's new number or BSUID takes their thread along."""

from __future__ import annotations

from typing import Any

import pytest

from store.models import HubEvent, WhatsAppConversation, WhatsAppMessage, WhatsAppMessageStatus
from tests.support import TEST_APP_SECRET
from webhook import samples
from webhook.receive import receive_updates
from webhook.signature import compute_signature

pytestmark = pytest.mark.django_db
NOW = 1_790_000_000
OLD, NEW = "15550001111", "15550002222"


def deliver(*values: dict[str, Any]) -> None:
    body = samples.encode(samples.envelope(list(values)))
    answers = receive_updates([(body, compute_signature(TEST_APP_SECRET, body))])
    assert [a.status for a in answers] == [200]


def test_a_status_naming_an_inbound_message_never_changes_it() -> None:
    deliver(samples.text_message("wamid.IN", OLD, "hello", NOW))
    deliver(samples.status_update("wamid.IN", OLD, "read", NOW + 1))
    deliver(samples.status_update("wamid.IN", OLD, "failed", NOW + 2))

    message = WhatsAppMessage.objects.get()
    assert (message.status, message.error_code) == ("received", None)
    assert WhatsAppMessageStatus.objects.filter(wamid="wamid.IN", message=None).count() == 2
    assert not HubEvent.objects.filter(type="message.updated").exists()


def test_a_number_change_moves_the_conversation_to_the_new_number() -> None:
    deliver(samples.text_message("wamid.1", OLD, "before", NOW))
    deliver(samples.number_change("wamid.sys", NOW + 1, "Ana", OLD, NEW))
    deliver(samples.text_message("wamid.2", NEW, "after", NOW + 2))

    conversation = WhatsAppConversation.objects.get()
    assert conversation.phone_number == NEW
    thread = list(conversation.messages.order_by("timestamp").values_list("message_type", "text_body"))
    assert thread == [("text", "before"), ("system", f"Ana changed from {OLD} to {NEW}"), ("text", "after")]
    created = HubEvent.objects.filter(type="message.created").order_by("seq")[1]
    assert created.payload["conversation"]["phone_number"] == NEW


def test_a_number_change_to_a_number_with_its_own_thread_keeps_both() -> None:
    deliver(
        samples.text_message("wamid.1", OLD, "old", NOW), samples.text_message("wamid.2", NEW, "new", NOW)
    )
    deliver(samples.number_change("wamid.sys", NOW + 1, "Ana", OLD, NEW))

    numbers = set(WhatsAppConversation.objects.values_list("phone_number", flat=True))
    assert numbers == {OLD, NEW}
    assert WhatsAppMessage.objects.get(message_id="wamid.sys").conversation.phone_number == OLD


def test_a_bsuid_change_moves_the_conversation_to_the_new_bsuid() -> None:
    first = samples.inbound_message("wamid.1", NOW, "text", {"body": "hi"}, user_id="US.old")
    deliver(samples.messages_value([samples.contact(name="B", user_id="US.old")], [first]))
    deliver(samples.user_id_change("wamid.sys", NOW + 1, "US.old", "US.new"))
    later = samples.inbound_message("wamid.2", NOW + 2, "text", {"body": "again"}, user_id="US.new")
    deliver(samples.messages_value([samples.contact(name="B", user_id="US.new")], [later]))

    conversation = WhatsAppConversation.objects.get()
    assert conversation.user_id == "US.new"
    assert conversation.message_count == 3
