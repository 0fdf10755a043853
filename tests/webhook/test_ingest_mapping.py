"""Mapping parsed webhooks onto the store's records: what each message and status becomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.records import IngestBatch, MessageRecord, StatusRecord, TemplateStatusRecord
from tests.support import fixture_json
from tests.webhook import BSUID, CUSTOMER, DISPLAY_NUMBER, PHONE_NUMBER_ID, WABA_ID, thousand_message_body
from webhook.ingest import batch_from_payload
from webhook.payload import parse_webhook

RECEIVED_AT = datetime(2025, 11, 24, 18, 0, tzinfo=UTC)


def batch(name: str) -> IngestBatch:
    return batch_from_payload(parse_webhook(fixture_json(name)), received_at=RECEIVED_AT)


def only_record(name: str) -> MessageRecord:
    (record,) = batch(name).messages
    return record


def only_status(name: str) -> StatusRecord:
    (record,) = batch(name).statuses
    return record


def test_batch_from_payload_text_is_inbound_from_customer_to_business() -> None:
    result = batch("text.json")
    (record,) = result.messages
    assert record.direction == "inbound"
    assert (record.from_number, record.to_number) == (CUSTOMER, DISPLAY_NUMBER)
    assert record.from_name == "Alex Cruz"
    assert record.message_type == "text"
    assert record.text_body == "Hi, is my order on its way?"
    assert record.timestamp == datetime(2025, 11, 24, 16, 0, 12, tzinfo=UTC)
    assert record.customer.wa_id == CUSTOMER
    assert record.customer.user_id == BSUID
    assert record.business.phone_number_id == PHONE_NUMBER_ID
    assert record.change is None
    assert record.raw["type"] == "text"
    (business,) = result.businesses
    assert (business.phone_number_id, business.display_phone_number, business.waba_id) == (
        PHONE_NUMBER_ID,
        DISPLAY_NUMBER,
        WABA_ID,
    )
    ((contact_business, customer),) = result.customers
    assert contact_business == business
    assert (customer.wa_id, customer.user_id, customer.name) == (CUSTOMER, BSUID, "Alex Cruz")


@pytest.mark.parametrize(
    ("name", "mime_type", "caption", "filename"),
    [
        ("image.json", "image/jpeg", "The box arrived like this", ""),
        ("video.json", "video/mp4", "Unboxing", ""),
        ("audio.json", "audio/mpeg", "", ""),
        ("voice.json", "audio/ogg; codecs=opus", "", ""),
        ("document.json", "application/pdf", "Invoice for October", "invoice-2025-10.pdf"),
        ("sticker.json", "image/webp", "", ""),
    ],
)
def test_batch_from_payload_media_fixture_fills_media_fields(
    name: str, mime_type: str, caption: str, filename: str
) -> None:
    record = only_record(name)
    media = fixture_json(name)["entry"][0]["changes"][0]["value"]["messages"][0][record.message_type]
    assert record.media_id == media["id"]
    assert record.media_sha256 == media["sha256"]
    assert record.media_mime_type == mime_type
    assert record.caption == caption
    assert record.media_filename == filename
    assert record.text_body == ""


def test_batch_from_payload_location_fills_location_fields() -> None:
    record = only_record("location.json")
    assert record.latitude == pytest.approx(37.4852152)
    assert record.longitude == pytest.approx(-122.1484)
    assert record.location_name == "Meta Headquarters"
    assert record.location_address == "1 Hacker Way, Menlo Park, CA 94025"


def test_batch_from_payload_contacts_message_is_recorded_with_its_type() -> None:
    record = only_record("contacts.json")
    assert record.message_type == "contacts"
    assert len(record.raw["contacts"]) == 2


@pytest.mark.parametrize(
    ("name", "text_body", "interactive_id"),
    [
        ("interactive_button_reply.json", "Yes, deliver it", "confirm-delivery"),
        ("interactive_list_reply.json", "Tuesday morning", "slot-2025-11-25-am"),
        ("interactive_nfm_reply.json", "Sent", ""),
        ("interactive_call_permission_reply.json", "accept", ""),
        ("button.json", "Reschedule", "RESCHEDULE_DELIVERY"),
    ],
)
def test_batch_from_payload_reply_fixture_maps_title_and_id(
    name: str, text_body: str, interactive_id: str
) -> None:
    record = only_record(name)
    context_id = fixture_json(name)["entry"][0]["changes"][0]["value"]["messages"][0]["context"]["id"]
    assert record.text_body == text_body
    assert record.interactive_id == interactive_id
    assert record.reply_to == context_id


def test_batch_from_payload_reaction_maps_emoji_and_reacted_wamid() -> None:
    record = only_record("reaction.json")
    reaction = record.raw["reaction"]
    assert isinstance(reaction, dict)
    assert record.message_type == "reaction"
    assert record.text_body == "\N{THUMBS UP SIGN}"
    assert record.reply_to == reaction["message_id"]


def test_batch_from_payload_removed_reaction_has_empty_text() -> None:
    record = only_record("reaction_removed.json")
    assert record.text_body == ""
    assert record.reply_to == only_record("reaction.json").reply_to


def test_batch_from_payload_order_maps_its_text() -> None:
    record = only_record("order.json")
    assert (record.message_type, record.text_body) == ("order", "Please gift-wrap the mug")


def test_batch_from_payload_system_number_change_keeps_old_number_and_body() -> None:
    record = only_record("system.json")
    assert record.message_type == "system"
    assert record.from_number == CUSTOMER
    assert record.text_body.startswith("Alex Cruz changed from")


def test_batch_from_payload_system_user_id_change_belongs_to_previous_bsuid() -> None:
    record = only_record("system_user_id.json")
    assert record.customer.wa_id is None
    assert record.customer.user_id == BSUID
    assert record.from_number == BSUID


def test_batch_from_payload_edit_carries_a_change_of_the_original() -> None:
    record = only_record("edit.json")
    assert record.message_type == "edit"
    assert record.change is not None
    assert record.change.kind == "edit"
    assert record.change.target_wamid == only_record("text.json").wamid
    assert record.change.text_body == "Hi, is my order (#4521) on its way?"


def test_batch_from_payload_revoke_carries_a_change_of_the_original() -> None:
    record = only_record("revoke.json")
    assert record.change is not None
    assert (record.change.kind, record.change.target_wamid) == ("revoke", only_record("image.json").wamid)
    assert record.change.text_body == ""


def test_batch_from_payload_unsupported_maps_first_error() -> None:
    record = only_record("unsupported.json")
    assert record.message_type == "unsupported"
    assert (record.error_code, record.error_title) == (131051, "Message type unknown")


def test_batch_from_payload_value_errors_apply_to_the_message_without_its_own() -> None:
    record = only_record("value_errors.json")
    assert record.message_type == "interactive"
    assert (record.error_code, record.error_title) == (131000, "Something went wrong")


def test_batch_from_payload_reply_context_maps_reply_to() -> None:
    record = only_record("reply_context.json")
    assert record.reply_to.startswith("wamid.")
    assert record.text_body == "Yes, that one"


def test_batch_from_payload_referral_message_is_recorded_with_raw_referral() -> None:
    record = only_record("referral.json")
    assert record.text_body == "Hi! I saw your ad"
    assert "referral" in record.raw


def test_batch_from_payload_bsuid_only_message_uses_bsuid_as_from_number() -> None:
    result = batch("bsuid_only.json")
    (record,) = result.messages
    assert record.customer.wa_id is None
    assert record.customer.user_id == BSUID
    assert record.customer.username == "alexcruz"
    assert record.from_number == BSUID
    assert record.to_number == DISPLAY_NUMBER
    ((_, customer),) = result.customers
    assert (customer.wa_id, customer.user_id, customer.username) == (None, BSUID, "alexcruz")


def test_batch_from_payload_status_sent_maps_pricing_and_conversation() -> None:
    record = only_status("status_sent.json")
    assert record.status == "sent"
    assert record.recipient_id == CUSTOMER
    assert record.business.phone_number_id == PHONE_NUMBER_ID
    assert record.conversation_id == "7270432eae37498234f4444b35ffc5a1"
    assert record.conversation_origin == "utility"
    assert record.conversation_expires_at == datetime(2025, 11, 25, 16, 12, 20, tzinfo=UTC)
    assert (record.pricing_billable, record.pricing_model) == (True, "PMP")
    assert (record.pricing_category, record.pricing_type) == ("utility", "regular")
    assert record.biz_opaque_callback_data == "order-4521-shipping-update"
    assert record.errors == []


@pytest.mark.parametrize(
    ("name", "status"),
    [("status_delivered.json", "delivered"), ("status_read.json", "read"), ("status_played.json", "played")],
)
def test_batch_from_payload_status_fixture_maps_status_and_updates_customer(name: str, status: str) -> None:
    result = batch(name)
    (record,) = result.statuses
    assert record.status == status
    assert record.timestamp > datetime(2025, 11, 24, tzinfo=UTC)
    ((_, customer),) = result.customers
    assert customer.username == "alexcruz"


def test_batch_from_payload_status_failed_keeps_errors() -> None:
    record = only_status("status_failed.json")
    assert record.status == "failed"
    (error,) = record.errors
    assert error["code"] == 131026
    assert error["title"] == "Message undeliverable"


def test_batch_from_payload_status_to_bsuid_only_uses_recipient_user_id() -> None:
    body = fixture_json("status_read.json")
    del body["entry"][0]["changes"][0]["value"]["statuses"][0]["recipient_id"]
    (record,) = batch_from_payload(parse_webhook(body)).statuses
    assert record.recipient_id == BSUID


def test_batch_from_payload_echo_is_outbound_from_business_to_customer() -> None:
    (record,) = batch("smb_message_echoes.json").messages
    assert record.direction == "outbound"
    assert (record.from_number, record.to_number) == (DISPLAY_NUMBER, CUSTOMER)
    assert record.customer.wa_id == CUSTOMER
    assert record.customer.user_id == BSUID
    assert record.text_body == "Your order #4521 ships today."


def test_batch_from_payload_template_status_update_records_only_the_template() -> None:
    result = batch("template_status_update.json")
    assert result == IngestBatch(templates=result.templates)
    assert result.templates == [
        TemplateStatusRecord(
            waba_id="102290129340398",
            name="order_shipped",
            language="en_US",
            status="APPROVED",
            template_id="1689556908129832",
            reason="NONE",
        )
    ]


def test_batch_from_payload_template_rejected_keeps_reason_and_meta_language() -> None:
    (record,) = batch("template_status_rejected.json").templates
    assert (record.status, record.reason, record.language) == ("REJECTED", "INCORRECT_CATEGORY", "en-US")
    assert record.category == "MARKETING"


def test_batch_from_payload_batch_multi_entry_maps_every_business_message_and_status() -> None:
    result = batch("batch_multi_entry.json")
    assert [b.phone_number_id for b in result.businesses] == [PHONE_NUMBER_ID, "118234567890123"]
    assert [(m.business.phone_number_id, m.from_number) for m in result.messages] == [
        (PHONE_NUMBER_ID, CUSTOMER),
        (PHONE_NUMBER_ID, "447700900123"),
        ("118234567890123", CUSTOMER),
    ]
    london = result.messages[1]
    assert (london.from_name, london.customer.user_id) == ("Priya Shah", "GB.58293017746120938811")
    assert [s.status for s in result.statuses] == ["delivered", "read", "sent"]
    assert result.statuses[2].business.display_phone_number == "15550783882"
    assert len(result.customers) == 3


def test_batch_from_payload_non_ascii_text_and_name_survive() -> None:
    record = only_record("non_ascii.json")
    assert "crème brûlée 😀👍🏽" in record.text_body
    assert record.from_name == "José Müller-Øberg 🌟"


def test_batch_from_payload_thousand_messages_all_mapped() -> None:
    result = batch_from_payload(parse_webhook(thousand_message_body()), received_at=RECEIVED_AT)
    assert len(result.messages) == 1000
    assert len({m.wamid for m in result.messages}) == 1000
    assert len(result.businesses) == 1


def test_batch_from_payload_message_without_phone_or_bsuid_is_dropped() -> None:
    body = fixture_json("text.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = []
    message = value["messages"][0]
    del message["from"], message["from_user_id"]
    assert batch_from_payload(parse_webhook(body)).messages == []


def test_batch_from_payload_message_without_timestamp_takes_received_at() -> None:
    body = fixture_json("text.json")
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"]
    (record,) = batch_from_payload(parse_webhook(body), received_at=RECEIVED_AT).messages
    assert record.timestamp == RECEIVED_AT


def test_batch_from_payload_unknown_type_is_recorded_by_name() -> None:
    body = fixture_json("text.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["type"] = "hologram"
    (record,) = batch_from_payload(parse_webhook(body)).messages
    assert record.message_type == "hologram"
    assert record.text_body == ""
