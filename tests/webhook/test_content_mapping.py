"""What each fixture's message keeps in `content`: the parts no column holds."""

from __future__ import annotations

from tests.support import fixture_json
from webhook.ingest import batch_from_payload
from webhook.payload import parse_webhook

BUSINESS_NUMBER = "15550783881"


def content_of(name: str) -> dict[str, object]:
    (record,) = batch_from_payload(parse_webhook(fixture_json(name))).messages
    return dict(record.content)


def test_message_content_contacts_keep_names_phones_and_emails() -> None:
    cards = content_of("contacts.json")["contacts"]
    assert cards == [
        {
            "name": "Maria Lopez",
            "organization": "Example Corp",
            "phones": [{"phone": "+1 650-555-9876", "wa_id": "16505559876", "type": "CELL"}],
            "emails": [{"email": "maria@example.com", "type": "WORK"}],
        },
        {
            "name": "Sam",
            "organization": "",
            "phones": [{"phone": "+1 650-555-4321", "wa_id": "", "type": "HOME"}],
            "emails": [],
        },
    ]


def test_message_content_order_keeps_catalog_items_quantities_and_prices() -> None:
    assert content_of("order.json")["order"] == {
        "catalog_id": "354160437058781",
        "text": "Please gift-wrap the mug",
        "items": [
            {"product_retailer_id": "MUG-BLUE-350", "quantity": 2, "item_price": 12.5, "currency": "USD"},
            {"product_retailer_id": "TEA-EARLGREY-100", "quantity": 1, "item_price": 8.0, "currency": "USD"},
        ],
    }


def test_message_content_referral_keeps_headline_url_and_click_id() -> None:
    referral = content_of("referral.json")["referral"]
    assert isinstance(referral, dict)
    assert referral["headline"] == "Winter sale: 30% off mugs"
    assert referral["source_url"] == "https://fb.me/3cr4Wqqkv"
    assert referral["ctwa_clid"].startswith("ARAk")


def test_message_content_forward_flags() -> None:
    assert content_of("forwarded.json") == {"forwarded": True}
    assert content_of("frequently_forwarded.json") == {"forwarded": True, "frequently_forwarded": True}
    assert content_of("text.json") == {}


def test_message_content_reply_keeps_who_wrote_the_quoted_message_and_the_product() -> None:
    content = content_of("reply_context.json")
    assert content["quoted_from"] == BUSINESS_NUMBER
    assert content["referred_product"] == {
        "catalog_id": "354160437058781",
        "product_retailer_id": "MUG-BLUE-350",
    }


def test_message_content_list_reply_keeps_description() -> None:
    assert content_of("interactive_list_reply.json")["description"] == "9:00 to 12:00"


def test_message_content_flow_reply_keeps_answered_fields() -> None:
    flow = content_of("interactive_nfm_reply.json")["flow"]
    assert flow == {
        "name": "flow",
        "body": "Sent",
        "response": {
            "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
            "delivery_rating": "4",
            "comment_text": "Fast delivery",
        },
    }


def test_message_content_unsupported_names_its_type() -> None:
    assert content_of("unsupported.json")["unsupported_type"] == "poll_creation"


def test_message_content_voice_note_and_animated_sticker() -> None:
    assert content_of("voice.json")["voice"] is True
    assert content_of("sticker.json")["animated"] is True
    assert "voice" not in content_of("audio.json")
