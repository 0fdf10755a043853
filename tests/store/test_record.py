"""record_batch against the real database: idempotent, forward-only statuses, exact counters, events."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections

from store.actions.message_rows import preview
from store.actions.record import record_batch
from store.models import HubEvent, Job, WhatsAppConversation, WhatsAppMessage, WhatsAppMessageStatus
from tests.factories import EPOCH, batch, inbound, outbound, status, wamid

pytestmark = pytest.mark.django_db


def test_record_batch_inbound_text_creates_conversation_message_and_event() -> None:
    events = record_batch(batch(inbound(text="Hello")))
    conversation = WhatsAppConversation.objects.get()
    assert (conversation.phone_number, conversation.contact_name) == ("16505551234", "John Doe")
    assert (conversation.message_count, conversation.unread_count) == (1, 1)
    assert conversation.last_message_at == EPOCH
    assert conversation.last_inbound_at == EPOCH
    assert conversation.last_message_preview == "Hello"
    message = WhatsAppMessage.objects.get()
    assert (message.direction, message.status, message.text_body) == ("inbound", "received", "Hello")
    assert [e.type for e in events] == ["message.created"]
    assert events[0].payload["message"]["message_id"] == message.message_id
    assert events[0].payload["conversation"]["unread_count"] == 1


def test_record_batch_redelivered_changes_and_publishes_nothing() -> None:
    original = batch(inbound(message_id="wamid.DUP"), inbound(message_id="wamid.DUP2"))
    assert len(record_batch(original)) == 2
    assert record_batch(original) == []
    conversation = WhatsAppConversation.objects.get()
    assert (conversation.message_count, conversation.unread_count) == (2, 2)
    assert HubEvent.objects.count() == 2


def test_record_batch_same_wamid_twice_in_one_batch_counts_once() -> None:
    record_batch(batch(inbound(message_id="wamid.TWICE"), inbound(message_id="wamid.TWICE")))
    assert WhatsAppMessage.objects.count() == 1
    assert WhatsAppConversation.objects.get().message_count == 1


def test_record_batch_statuses_out_of_order_never_move_backwards() -> None:
    sent = outbound(message_id="wamid.OUT1")
    record_batch(batch(sent))
    record_batch(batch(status("wamid.OUT1", "read", offset=3)))
    events = record_batch(
        batch(status("wamid.OUT1", "delivered", offset=2), status("wamid.OUT1", "sent", offset=1))
    )
    message = WhatsAppMessage.objects.get()
    assert message.status == "read"
    assert events == []
    assert WhatsAppMessageStatus.objects.filter(message=message).count() == 3


def test_record_batch_failed_keeps_error_and_is_terminal() -> None:
    record_batch(batch(outbound(message_id="wamid.FAIL")))
    error = {"code": 131047, "title": "Re-engagement message", "message": "More than 24 hours"}
    record_batch(batch(status("wamid.FAIL", "failed", errors=[error])))
    record_batch(batch(status("wamid.FAIL", "delivered", offset=5)))
    message = WhatsAppMessage.objects.get()
    assert (message.status, message.error_code, message.error_title) == (
        "failed",
        131047,
        "Re-engagement message",
    )


def test_record_batch_status_before_its_message_is_kept_and_linked_later() -> None:
    events = record_batch(batch(status("wamid.EARLY", "delivered")))
    assert events == []
    orphan = WhatsAppMessageStatus.objects.get()
    assert orphan.message is None
    record_batch(batch(outbound(message_id="wamid.EARLY")))
    message = WhatsAppMessage.objects.get()
    assert message.status == "delivered"
    orphan.refresh_from_db()
    assert orphan.message == message


def test_record_batch_status_of_unknown_wamid_is_stored_never_dropped() -> None:
    record_batch(batch(status("wamid.OTHER-SYSTEM", "sent", recipient="19995550000")))
    assert WhatsAppMessageStatus.objects.filter(wamid="wamid.OTHER-SYSTEM").exists()
    assert WhatsAppConversation.objects.count() == 0


def test_record_batch_older_message_does_not_replace_last_message() -> None:
    record_batch(batch(inbound(text="new", at=EPOCH)))
    record_batch(batch(inbound(text="old", at=EPOCH - timedelta(hours=1))))
    conversation = WhatsAppConversation.objects.get()
    assert conversation.last_message_at == EPOCH
    assert conversation.last_message_preview == "new"
    assert conversation.message_count == 2


def test_record_batch_outbound_counts_but_is_not_unread() -> None:
    record_batch(batch(inbound(), outbound()))
    conversation = WhatsAppConversation.objects.get()
    assert (conversation.message_count, conversation.unread_count) == (2, 1)


def test_record_batch_bsuid_only_customer_gets_a_conversation() -> None:
    record_batch(batch(inbound(wa_id="", user_id="US.13491208655302741918", name="Ana")))
    conversation = WhatsAppConversation.objects.get()
    assert conversation.phone_number is None
    assert conversation.user_id == "US.13491208655302741918"


def test_record_batch_bsuid_later_joins_the_phone_conversation() -> None:
    record_batch(batch(inbound(wa_id="16505551234")))
    record_batch(batch(inbound(wa_id="16505551234", user_id="US.1")))
    conversation = WhatsAppConversation.objects.get()
    assert conversation.user_id == "US.1"
    assert conversation.message_count == 2


def test_record_batch_contact_name_follows_the_latest_profile() -> None:
    record_batch(batch(inbound(name="John")))
    record_batch(batch(inbound(name="John Doe")))
    assert WhatsAppConversation.objects.get().contact_name == "John Doe"


def test_record_batch_events_have_consecutive_seq_in_order() -> None:
    first = record_batch(batch(inbound(), inbound()))
    second = record_batch(batch(inbound()))
    seqs = [e.seq for e in first + second]
    assert seqs == list(range(seqs[0], seqs[0] + 3))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_record_batch_concurrent_writers_keep_counters_exact() -> None:
    writers, per_writer = 8, 10
    wamids = [[wamid() for _ in range(per_writer)] for _ in range(writers)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(ids: list[str]) -> None:
        try:
            barrier.wait()
            for index, message_id in enumerate(ids):
                # Every writer also redelivers the previous writer's message: duplicates race too.
                record_batch(batch(inbound(message_id=message_id, at=EPOCH + timedelta(seconds=index))))
                record_batch(batch(inbound(message_id=wamids[0][index])))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=write, args=(ids,)) for ids in wamids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    conversation = WhatsAppConversation.objects.get()
    total = writers * per_writer
    assert WhatsAppMessage.objects.count() == total
    assert (conversation.message_count, conversation.unread_count) == (total, total)
    assert HubEvent.objects.count() == total
    seqs = sorted(HubEvent.objects.values_list("seq", flat=True))
    assert seqs == list(range(seqs[0], seqs[0] + total))


def test_record_batch_inbound_media_queues_one_download_job() -> None:
    image = inbound(text="", message_type="image", media_id="1037543291543636", media_mime_type="image/jpeg")
    record_batch(batch(image))
    record_batch(batch(image))
    message = WhatsAppMessage.objects.get()
    assert message.media_status == "pending"
    job = Job.objects.get()
    assert (job.kind, job.payload) == ("media.download", {"message_id": message.pk})


def test_record_batch_oversized_values_are_cut_not_fatal() -> None:
    huge = inbound(
        wa_id="1" * 60, name="N" * 1000, message_type="x" * 300, error_code=2**40, location_name="L" * 5000
    )
    record_batch(batch(huge))
    record_batch(batch(inbound(wa_id="1" * 60, name="N" * 1000)))
    message = WhatsAppMessage.objects.order_by("pk").first()
    assert message is not None
    assert len(message.message_type) == 64
    assert message.error_code is None
    conversation = WhatsAppConversation.objects.get()
    assert conversation.message_count == 2
    assert len(conversation.contact_name) == 256


def test_record_batch_nul_characters_are_dropped_not_fatal() -> None:
    nul = inbound(text="be\x00fore", name="Jo\x00hn", raw={"text": {"body": "be\x00fore"}})
    record_batch(batch(nul))
    message = WhatsAppMessage.objects.get()
    assert message.text_body == "before"
    assert message.raw == {"text": {"body": "before"}}
    assert WhatsAppConversation.objects.get().contact_name == "John"


@pytest.mark.parametrize(
    ("message_type", "text", "shown"),
    [
        ("revoke", "", "This message was deleted"),
        ("image", "", "Photo"),
        ("image", "Our new menu", "Our new menu"),
        ("audio", "", "Voice message"),
        ("contacts", "", "Contact card"),
        ("nfm_reply", "", "Form answers"),
        ("call_permission_reply", "", "Call permission reply"),
    ],
)
def test_conversation_preview_names_a_message_without_text_as_a_person_reads_it(
    message_type: str, text: str, shown: str
) -> None:
    message = WhatsAppMessage(message_type=message_type, text_body="", caption=text)
    assert preview(message) == shown
