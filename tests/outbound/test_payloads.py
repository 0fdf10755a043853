"""Translation of the hub's REST send body into Meta's `/messages` payload."""

from __future__ import annotations

from typing import Any

import pytest

from outbound.payloads import SendValidationError, build_message, is_free_form


def invalid(body: dict[str, Any]) -> SendValidationError:
    with pytest.raises(SendValidationError) as caught:
        build_message(body)
    return caught.value


def test_build_message_text_without_link_has_no_preview() -> None:
    assert build_message({"to": "+1 (650) 555-1234", "text": "Hello"}) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+1 (650) 555-1234",
        "type": "text",
        "text": {"preview_url": False, "body": "Hello"},
    }


@pytest.mark.parametrize("text", ["see https://example.com/x", "go to www.example.com", "HTTP://EXAMPLE.COM"])
def test_build_message_text_with_link_asks_for_preview(text: str) -> None:
    assert build_message({"to": "16505551234", "text": text})["text"]["preview_url"] is True


def test_build_message_reply_to_becomes_context() -> None:
    payload = build_message({"to": "16505551234", "text": "yes", "reply_to": "wamid.ABC"})
    assert payload["context"] == {"message_id": "wamid.ABC"}


def test_build_message_business_scoped_user_id_uses_recipient() -> None:
    payload = build_message({"to": "US.13491208655302741918", "text": "hi"})
    assert payload["recipient"] == "US.13491208655302741918"
    assert "to" not in payload


def test_build_message_template_keeps_meta_shape() -> None:
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]
    body = {
        "to": "16505551234",
        "template": {"name": "hello", "language": {"code": "en_US"}, "components": components},
    }
    payload = build_message(body)
    assert payload["type"] == "template"
    assert payload["template"] == {"name": "hello", "language": {"code": "en_US"}, "components": components}


def test_build_message_document_by_id_keeps_caption_and_filename() -> None:
    media = {"type": "document", "id": "1234", "caption": "Invoice", "filename": "invoice.pdf"}
    payload = build_message({"to": "16505551234", "media": media})
    assert payload["type"] == "document"
    assert payload["document"] == {"id": "1234", "caption": "Invoice", "filename": "invoice.pdf"}


def test_build_message_image_by_link() -> None:
    payload = build_message({"to": "16505551234", "media": {"type": "image", "link": "https://x.test/a.jpg"}})
    assert payload["image"] == {"link": "https://x.test/a.jpg"}


def test_build_message_location_converts_coordinates() -> None:
    payload = build_message(
        {"to": "16505551234", "location": {"latitude": "38.9", "longitude": -77.03, "name": "HQ"}}
    )
    assert payload["location"] == {"latitude": 38.9, "longitude": -77.03, "name": "HQ"}


def test_build_message_interactive_buttons_pass_through() -> None:
    interactive = {
        "type": "button",
        "body": {"text": "Pick one"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
    }
    assert build_message({"to": "16505551234", "interactive": interactive})["interactive"] == interactive


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"to": "16505551234"}, "invalid_body"),
        ({"to": "16505551234", "text": "a", "media": {"type": "image", "id": "1"}}, "invalid_body"),
        ({"text": "hi"}, "invalid_recipient"),
        ({"to": "call me", "text": "hi"}, "invalid_recipient"),
        ({"to": "16505551234", "text": "   "}, "invalid_text"),
        ({"to": "16505551234", "text": "x" * 4097}, "invalid_text"),
        ({"to": "16505551234", "template": {"name": "hello"}}, "invalid_template"),
        ({"to": "16505551234", "media": {"type": "gif", "id": "1"}}, "invalid_media"),
        ({"to": "16505551234", "media": {"type": "image"}}, "invalid_media"),
        (
            {"to": "16505551234", "media": {"type": "image", "id": "1", "link": "https://x.test"}},
            "invalid_media",
        ),
        ({"to": "16505551234", "media": {"type": "image", "link": "ftp://x.test/a"}}, "invalid_media"),
        ({"to": "16505551234", "media": {"type": "audio", "id": "1", "caption": "no"}}, "invalid_media"),
        ({"to": "16505551234", "media": {"type": "sticker", "id": "1", "caption": "no"}}, "invalid_media"),
        ({"to": "16505551234", "media": {"type": "image", "id": "1", "filename": "a.jpg"}}, "invalid_media"),
        ({"to": "16505551234", "location": {"latitude": 91, "longitude": 0}}, "invalid_location"),
        ({"to": "16505551234", "location": {"latitude": "north", "longitude": 0}}, "invalid_location"),
        ({"to": "16505551234", "interactive": {"type": "carousel", "action": {}}}, "invalid_interactive"),
        (
            {"to": "16505551234", "interactive": {"type": "button", "action": {"buttons": []}}},
            "invalid_interactive",
        ),
        ({"to": "16505551234", "text": "hi", "reply_to": 12}, "invalid_reply_to"),
    ],
)
def test_build_message_invalid_body_raises_with_code(body: dict[str, Any], code: str) -> None:
    error = invalid(body)
    assert error.code == code
    assert error.detail


def test_is_free_form_everything_but_templates() -> None:
    assert is_free_form({"to": "1", "text": "hi"})
    assert is_free_form({"to": "1", "media": {"type": "image", "id": "1"}})
    assert not is_free_form({"to": "1", "template": {"name": "hello", "language": {"code": "en"}}})
