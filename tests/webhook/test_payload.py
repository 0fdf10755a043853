"""Parsing Meta's webhook bodies: one case per fixture, batches, and bodies that are odd or broken."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import FIXTURES, fixture_json
from tests.webhook import BSUID, CUSTOMER, DISPLAY_NUMBER, PHONE_NUMBER_ID, WABA_ID, thousand_message_body
from webhook.ingest import batch_from_payload
from webhook.message_types import InteractiveKind, SystemKind
from webhook.messages import Message, MessageType
from webhook.payload import PayloadError, WebhookPayload, parse_webhook
from webhook.statuses import Status, StatusKind


def parse(name: str) -> WebhookPayload:
    return parse_webhook(fixture_json(name))


def only_message(name: str) -> Message:
    messages = list(parse(name).messages)
    assert len(messages) == 1
    return messages[0]


def only_status(name: str) -> Status:
    statuses = list(parse(name).statuses)
    assert len(statuses) == 1
    return statuses[0]


def test_parse_webhook_text_keeps_sender_business_and_body() -> None:
    payload = parse("text.json")
    (change,) = payload.changes
    assert payload.object_type == "whatsapp_business_account"
    assert change.field == "messages"
    assert change.business.phone_number_id == PHONE_NUMBER_ID
    assert change.business.display_phone_number == DISPLAY_NUMBER
    assert change.business.waba_id == WABA_ID
    (contact,) = change.contacts
    assert (contact.wa_id, contact.user_id, contact.name) == (CUSTOMER, BSUID, "Alex Cruz")
    message = change.messages[0]
    assert message.type is MessageType.TEXT
    assert message.type_name == "text"
    assert message.text == "Hi, is my order on its way?"
    assert message.from_number == CUSTOMER
    assert message.from_user_id == BSUID
    assert message.timestamp == datetime(2025, 11, 24, 16, 0, 12, tzinfo=UTC)
    assert message.wamid.startswith("wamid.")
    assert message.raw == fixture_json("text.json")["entry"][0]["changes"][0]["value"]["messages"][0]


@pytest.mark.parametrize(
    ("name", "type_name", "mime_type", "caption", "filename"),
    [
        ("image.json", "image", "image/jpeg", "The box arrived like this", ""),
        ("video.json", "video", "video/mp4", "Unboxing", ""),
        ("audio.json", "audio", "audio/mpeg", "", ""),
        ("document.json", "document", "application/pdf", "Invoice for October", "invoice-2025-10.pdf"),
        ("sticker.json", "sticker", "image/webp", "", ""),
    ],
)
def test_parse_webhook_media_fixture_keeps_media_fields(
    name: str, type_name: str, mime_type: str, caption: str, filename: str
) -> None:
    message = only_message(name)
    assert message.type_name == type_name
    assert message.media is not None
    assert message.media.id
    assert message.media.sha256
    assert message.media.mime_type == mime_type
    assert message.media.caption == caption
    assert message.media.filename == filename
    assert not message.is_voice


def test_parse_webhook_voice_note_is_voice_audio() -> None:
    message = only_message("voice.json")
    assert message.type is MessageType.AUDIO
    assert message.is_voice
    assert message.media is not None
    assert message.media.mime_type == "audio/ogg; codecs=opus"


def test_parse_webhook_sticker_keeps_animated() -> None:
    media = only_message("sticker.json").media
    assert media is not None
    assert media.animated


def test_parse_webhook_location_keeps_coordinates_and_place() -> None:
    location = only_message("location.json").location
    assert location is not None
    assert location.latitude == pytest.approx(37.4852152)
    assert location.longitude == pytest.approx(-122.1484)
    assert location.name == "Meta Headquarters"
    assert location.address == "1 Hacker Way, Menlo Park, CA 94025"


def test_parse_webhook_contacts_keeps_every_shared_card() -> None:
    message = only_message("contacts.json")
    assert message.type is MessageType.CONTACTS
    assert [c.formatted_name for c in message.contacts] == ["Maria Lopez", "Sam"]
    assert message.contacts[0].phones[0].wa_id == "16505559876"
    assert message.contacts[1].phones[0].phone == "+1 650-555-4321"


def test_parse_webhook_interactive_button_reply_keeps_id_and_title() -> None:
    message = only_message("interactive_button_reply.json")
    assert message.interactive is not None
    assert message.interactive.kind is InteractiveKind.BUTTON_REPLY
    assert message.interactive.id == "confirm-delivery"
    assert message.interactive.title == "Yes, deliver it"
    assert message.context is not None
    assert message.context.from_number == DISPLAY_NUMBER


def test_parse_webhook_interactive_list_reply_keeps_description() -> None:
    reply = only_message("interactive_list_reply.json").interactive
    assert reply is not None
    assert reply.kind is InteractiveKind.LIST_REPLY
    assert (reply.id, reply.title, reply.description) == (
        "slot-2025-11-25-am",
        "Tuesday morning",
        "9:00 to 12:00",
    )


def test_parse_webhook_interactive_nfm_reply_keeps_response_json() -> None:
    reply = only_message("interactive_nfm_reply.json").interactive
    assert reply is not None
    assert reply.kind is InteractiveKind.NFM_REPLY
    assert reply.body == "Sent"
    assert reply.name == "flow"
    assert json.loads(reply.response_json)["delivery_rating"] == "4"


def test_parse_webhook_interactive_call_permission_reply_keeps_response() -> None:
    reply = only_message("interactive_call_permission_reply.json").interactive
    assert reply is not None
    assert reply.kind is InteractiveKind.CALL_PERMISSION_REPLY
    assert reply.response == "accept"
    assert reply.response_source == "user_action"
    assert reply.expiration_timestamp == 1764605150


def test_parse_webhook_template_button_keeps_text_and_payload() -> None:
    message = only_message("button.json")
    assert message.type is MessageType.BUTTON
    assert message.button is not None
    assert (message.button.text, message.button.payload) == ("Reschedule", "RESCHEDULE_DELIVERY")


def test_parse_webhook_reaction_keeps_emoji_and_target() -> None:
    reaction = only_message("reaction.json").reaction
    assert reaction is not None
    assert reaction.emoji == "\N{THUMBS UP SIGN}"
    assert reaction.message_id.startswith("wamid.")
    assert not reaction.removed


def test_parse_webhook_reaction_with_empty_emoji_is_removed() -> None:
    reaction = only_message("reaction_removed.json").reaction
    assert reaction is not None
    assert reaction.removed
    assert reaction.message_id == only_message("reaction.json").reaction.message_id  # type: ignore[union-attr]


def test_parse_webhook_order_keeps_catalog_text_and_items() -> None:
    order = only_message("order.json").order
    assert order is not None
    assert order.catalog_id == "354160437058781"
    assert order.text == "Please gift-wrap the mug"
    assert [(i.product_retailer_id, i.quantity, i.item_price) for i in order.items] == [
        ("MUG-BLUE-350", 2, 12.5),
        ("TEA-EARLGREY-100", 1, 8.0),
    ]


def test_parse_webhook_system_number_change_keeps_new_wa_id() -> None:
    message = only_message("system.json")
    assert message.system is not None
    assert message.system.kind is SystemKind.USER_CHANGED_NUMBER
    assert message.system.wa_id == "16505550000"
    assert message.system.body.startswith("Alex Cruz changed from")


def test_parse_webhook_system_user_id_change_without_from_keeps_both_bsuids() -> None:
    message = only_message("system_user_id.json")
    assert message.from_number == ""
    assert message.system is not None
    assert message.system.kind is SystemKind.USER_CHANGED_USER_ID
    assert message.system.previous_user_id == BSUID
    assert message.system.user_id == "US.20587319966413852029"


def test_parse_webhook_edit_keeps_target_and_new_text() -> None:
    message = only_message("edit.json")
    assert message.type is MessageType.EDIT
    assert message.edit is not None
    assert message.edit.original_message_id == only_message("text.json").wamid
    assert message.edit.type_name == "text"
    assert message.edit.text == "Hi, is my order (#4521) on its way?"


def test_parse_webhook_revoke_keeps_target() -> None:
    message = only_message("revoke.json")
    assert message.type is MessageType.REVOKE
    assert message.revoke is not None
    assert message.revoke.original_message_id == only_message("image.json").wamid


def test_parse_webhook_unsupported_keeps_errors_and_inner_type() -> None:
    message = only_message("unsupported.json")
    assert message.type is MessageType.UNSUPPORTED
    assert message.unsupported_type == "poll_creation"
    (error,) = message.errors
    assert (error.code, error.title) == (131051, "Message type unknown")
    assert error.details == "Message type is currently not supported."


def test_parse_webhook_reply_context_keeps_reply_target_and_product() -> None:
    context = only_message("reply_context.json").context
    assert context is not None
    assert context.id.startswith("wamid.")
    assert context.from_number == DISPLAY_NUMBER
    assert not context.forwarded
    assert not context.frequently_forwarded
    assert context.referred_product_retailer_id == "MUG-BLUE-350"


def test_parse_webhook_referral_keeps_ad_fields() -> None:
    referral = only_message("referral.json").referral
    assert referral is not None
    assert referral.source_type == "ad"
    assert referral.source_id == "120214389172830476"
    assert referral.headline == "Winter sale: 30% off mugs"
    assert referral.ctwa_clid.startswith("ARAk")


def test_parse_webhook_bsuid_only_message_has_no_phone_but_a_user_id() -> None:
    payload = parse("bsuid_only.json")
    (contact,) = payload.changes[0].contacts
    assert contact.wa_id == ""
    assert (contact.user_id, contact.username, contact.name) == (BSUID, "alexcruz", "Alex Cruz")
    message = next(payload.messages)
    assert message.from_number == ""
    assert message.from_user_id == BSUID
    assert message.text == "Hello from my username account"


def test_parse_webhook_status_sent_keeps_pricing_conversation_and_callback_data() -> None:
    status = only_status("status_sent.json")
    assert status.status is StatusKind.SENT
    assert (status.recipient_id, status.recipient_user_id) == (CUSTOMER, BSUID)
    assert status.biz_opaque_callback_data == "order-4521-shipping-update"
    assert status.conversation is not None
    assert status.conversation.origin_type == "utility"
    assert status.conversation.expiration_timestamp == datetime(2025, 11, 25, 16, 12, 20, tzinfo=UTC)
    assert status.pricing is not None
    assert (status.pricing.billable, status.pricing.pricing_model) == (True, "PMP")
    assert (status.pricing.category, status.pricing.type) == ("utility", "regular")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("status_delivered.json", StatusKind.DELIVERED),
        ("status_read.json", StatusKind.READ),
        ("status_played.json", StatusKind.PLAYED),
    ],
)
def test_parse_webhook_status_fixture_keeps_kind_and_username(name: str, kind: StatusKind) -> None:
    payload = parse(name)
    status = next(payload.statuses)
    assert status.status is kind
    assert status.status_name == kind.value
    assert status.timestamp is not None
    assert payload.changes[0].contacts[0].username == "alexcruz"


def test_parse_webhook_status_failed_keeps_error_details() -> None:
    status = only_status("status_failed.json")
    assert status.status is StatusKind.FAILED
    assert status.recipient_user_id == ""
    (error,) = status.errors
    assert (error.code, error.title) == (131026, "Message undeliverable")
    assert error.details == "Message could not be delivered to the recipient."
    assert error.href.startswith("https://developers.facebook.com/")


def test_parse_webhook_value_errors_are_kept_beside_the_message() -> None:
    (change,) = parse("value_errors.json").changes
    (error,) = change.errors
    assert (error.code, error.details) == (131000, "Unsupported webhook payload")
    assert change.messages[0].type is MessageType.INTERACTIVE
    assert change.messages[0].interactive is not None
    assert change.messages[0].interactive.kind is InteractiveKind.UNKNOWN


def test_parse_webhook_smb_message_echoes_are_outbound_echoes() -> None:
    payload = parse("smb_message_echoes.json")
    (change,) = payload.changes
    assert change.field == "smb_message_echoes"
    assert change.messages == ()
    (echo,) = change.echoes
    assert (echo.from_number, echo.to_number, echo.to_user_id) == (DISPLAY_NUMBER, CUSTOMER, BSUID)
    assert echo.text == "Your order #4521 ships today."


def test_parse_webhook_template_status_update_is_an_acknowledged_other_change() -> None:
    payload = parse("template_status_update.json")
    assert payload.changes == ()
    (other,) = payload.other_changes
    assert other.field == "message_template_status_update"
    assert other.waba_id == WABA_ID
    assert isinstance(other.value, dict)
    assert other.value["event"] == "APPROVED"


def test_parse_webhook_batch_multi_entry_walks_every_entry_and_change() -> None:
    payload = parse("batch_multi_entry.json")
    assert len(payload.changes) == 4
    assert [m.text or m.type_name for m in payload.messages] == ["First", "Hello from London", "image"]
    assert [s.status_name for s in payload.statuses] == ["delivered", "read", "sent"]
    assert {c.business.phone_number_id for c in payload.changes} == {PHONE_NUMBER_ID, "118234567890123"}
    assert {c.business.waba_id for c in payload.changes} == {WABA_ID, "102290129340399"}
    assert [o.field for o in payload.other_changes] == ["message_template_status_update"]


def test_parse_webhook_non_ascii_text_and_name_survive() -> None:
    payload = parse("non_ascii.json")
    message = next(payload.messages)
    assert "Café ☕" in message.text
    assert "😀👍🏽" in message.text
    assert "你好" in message.text
    assert payload.changes[0].contacts[0].name == "José Müller-Øberg 🌟"


def test_parse_webhook_thousand_messages_across_entries_all_parsed_in_order() -> None:
    payload = parse_webhook(thousand_message_body())
    wamids = [m.wamid for m in payload.messages]
    assert wamids == [f"wamid.batch-{i:04d}" for i in range(1000)]


def test_parse_webhook_unknown_message_type_is_kept_by_name() -> None:
    body = fixture_json("text.json")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "hologram"
    message["hologram"] = {"depth": 3}
    del message["text"]
    parsed = next(parse_webhook(body).messages)
    assert parsed.type is MessageType.UNKNOWN
    assert parsed.type_name == "hologram"
    assert parsed.raw["hologram"] == {"depth": 3}


def test_parse_webhook_unknown_status_is_kept_by_name() -> None:
    body = fixture_json("status_read.json")
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "teleported"
    status = next(parse_webhook(body).statuses)
    assert status.status is StatusKind.UNKNOWN
    assert status.status_name == "teleported"


def test_parse_webhook_minimal_message_without_optional_fields_parses() -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {"field": "messages", "value": {"messages": [{"id": "wamid.bare", "type": "text"}]}}
                ]
            }
        ],
    }
    payload = parse_webhook(body)
    message = next(payload.messages)
    assert (message.wamid, message.text, message.timestamp, message.context) == ("wamid.bare", "", None, None)
    assert payload.changes[0].business.phone_number_id == ""
    assert payload.changes[0].contacts == ()


def test_parse_webhook_wrong_shaped_parts_read_as_missing() -> None:
    body = fixture_json("image.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = "nobody"
    value["statuses"] = [1, None, "x"]
    value["messages"][0]["image"] = ["not", "an", "object"]
    value["messages"][0]["timestamp"] = "yesterday"
    body["entry"].append("not an entry")
    message = next(parse_webhook(body).messages)
    assert message.media is not None
    assert message.media.id == ""
    assert message.timestamp is None


@pytest.mark.parametrize("data", [[], "text", 42, None, True, 1.5])
def test_parse_webhook_non_object_json_raises_payload_error(data: object) -> None:
    with pytest.raises(PayloadError):
        parse_webhook(data)


@pytest.mark.parametrize(
    "data",
    [
        {"entry": []},
        {"object": 7, "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": {"id": "1"}},
    ],
)
def test_parse_webhook_envelope_without_object_or_entry_list_raises_payload_error(data: object) -> None:
    with pytest.raises(PayloadError):
        parse_webhook(data)


def test_parse_webhook_empty_entry_list_is_an_empty_payload() -> None:
    payload = parse_webhook({"object": "whatsapp_business_account", "entry": []})
    assert payload.changes == ()
    assert payload.other_changes == ()


FIXTURE_NAMES = sorted(p.name for p in (FIXTURES / "webhooks").glob("*.json"))

# Any JSON-ish value, including what JSON forbids but a careless relay might produce (NaN, huge ints).
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def containers(node: object) -> list[dict[str, Any] | list[Any]]:
    """Every object and list inside `node`, itself included."""
    found: list[dict[str, Any] | list[Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for child in node.values():
            found += containers(child)
    elif isinstance(node, list):
        found.append(node)
        for child in node:
            found += containers(child)
    return found


def mutate(body: dict[str, Any], data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(min_value=1, max_value=8), label="mutations")):
        # Root last: Hypothesis favours early choices, and a broken envelope is tested on its own.
        target = data.draw(st.sampled_from(containers(body)[::-1]), label="target")
        action = data.draw(st.sampled_from(["drop", "swap", "insert"]), label="action")
        if isinstance(target, dict):
            keys = sorted(target)
            if action == "insert" or not keys:
                target[data.draw(st.text(max_size=10), label="key")] = data.draw(JUNK, label="junk")
                continue
            key = data.draw(st.sampled_from(keys), label="key")
            if action == "drop":
                del target[key]
            else:
                target[key] = data.draw(JUNK, label="junk")
        elif action == "insert" or not target:
            target.insert(data.draw(st.integers(0, len(target)), label="at"), data.draw(JUNK, label="junk"))
        else:
            index = data.draw(st.integers(0, len(target) - 1), label="index")
            if action == "drop":
                del target[index]
            else:
                target[index] = data.draw(JUNK, label="junk")


@settings(max_examples=400, deadline=None, database=None)
@given(name=st.sampled_from(FIXTURE_NAMES), data=st.data())
def test_parse_webhook_mutated_fixture_raises_nothing_but_payload_error(
    name: str, data: st.DataObject
) -> None:
    body = fixture_json(name)
    mutate(body, data)
    try:
        payload = parse_webhook(body)
    except PayloadError:
        return
    batch = batch_from_payload(payload, received_at=datetime(2025, 11, 24, tzinfo=UTC))
    assert len(batch.messages) <= len(list(payload.messages)) + len(list(payload.echoes))
    assert all(record.wamid for record in batch.messages)


@settings(max_examples=100, deadline=None, database=None)
@given(data=JUNK)
def test_parse_webhook_arbitrary_json_raises_nothing_but_payload_error(data: object) -> None:
    with contextlib.suppress(PayloadError):
        batch_from_payload(parse_webhook(data))
