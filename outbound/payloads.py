"""Pure validation of the hub's REST send body and its translation into Meta's `/messages` payload."""

# Meta's shapes: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
NO_CAPTION_TYPES = frozenset({"audio", "sticker"})
INTERACTIVE_TYPES = frozenset(
    {
        "button",
        "list",
        "cta_url",
        "flow",
        "product",
        "product_list",
        "catalog_message",
        "location_request_message",
        "address_message",
        "call_permission_request",
    }
)
CONTENT_KEYS = ("text", "template", "media", "location", "interactive")

TEXT_MAX = 4096
CAPTION_MAX = 1024
_URL_RE = re.compile(r"(https?://|www\.)\S", re.IGNORECASE)
# A phone number as people type it: digits with an optional +, spaces, dots, dashes and parentheses.
_PHONE_RE = re.compile(r"^\+?[\d\s().-]+$")
# A business-scoped user id: ISO country code, a period, alphanumerics (e.g. US.13491208655302741918).
_BSUID_RE = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")


class SendValidationError(ValueError):
    """The send body cannot become a valid Meta message; `code` is the REST error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def is_free_form(body: Mapping[str, Any]) -> bool:
    """True for every message Meta only delivers inside the 24-hour customer service window."""
    return "template" not in body


def build_message(body: Mapping[str, Any]) -> dict[str, Any]:
    """Meta's `/messages` payload for a REST send body; raises `SendValidationError` when it is invalid."""
    if not isinstance(body, Mapping):
        raise SendValidationError("invalid_body", "The body must be a JSON object.")
    present = [key for key in CONTENT_KEYS if body.get(key) is not None]
    if len(present) != 1:
        raise SendValidationError(
            "invalid_body", f"Give exactly one of {', '.join(CONTENT_KEYS)} (got {len(present)})."
        )
    kind = present[0]
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    payload.update(_recipient(body.get("to")))
    if kind == "text":
        payload.update(type="text", text=_text(body["text"]))
    elif kind == "template":
        payload.update(type="template", template=_template(body["template"]))
    elif kind == "media":
        media_type, media = _media(body["media"])
        payload.update({"type": media_type, media_type: media})
    elif kind == "location":
        payload.update(type="location", location=_location(body["location"]))
    else:
        payload.update(type="interactive", interactive=_interactive(body["interactive"]))
    reply_to = body.get("reply_to")
    if reply_to is not None:
        if not isinstance(reply_to, str) or not reply_to.strip():
            raise SendValidationError("invalid_reply_to", "reply_to must be the wamid of a message.")
        payload["context"] = {"message_id": reply_to.strip()}
    return payload


def _recipient(to: object) -> dict[str, str]:
    if not isinstance(to, str) or not to.strip():
        raise SendValidationError("invalid_recipient", "to must be the customer's phone number or user id.")
    to = to.strip()
    if _BSUID_RE.match(to):
        # A customer known only by a business-scoped user id is addressed with `recipient`, not `to`.
        return {"recipient": to}
    digits = sum(ch.isdigit() for ch in to)
    if not _PHONE_RE.match(to) or not 5 <= digits <= 20:
        raise SendValidationError("invalid_recipient", "to must be a phone number in international format.")
    return {"to": to}


def _text(text: object) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        raise SendValidationError("invalid_text", "text must be a non-empty string.")
    if len(text) > TEXT_MAX:
        raise SendValidationError("invalid_text", f"text is longer than {TEXT_MAX} characters.")
    # Meta only renders a link preview when asked to; ask whenever the text carries a link.
    return {"preview_url": bool(_URL_RE.search(text)), "body": text}


def _template(template: object) -> dict[str, Any]:
    if not isinstance(template, Mapping):
        raise SendValidationError("invalid_template", "template must be an object.")
    name = template.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SendValidationError("invalid_template", "template.name is required.")
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else None
    if not isinstance(code, str) or not code.strip():
        raise SendValidationError(
            "invalid_template", 'template.language must be {"code": "en_US"} or similar.'
        )
    result: dict[str, Any] = {"name": name.strip(), "language": {"code": code.strip()}}
    if isinstance(language, Mapping) and language.get("policy") is not None:
        result["language"]["policy"] = language["policy"]
    components = template.get("components")
    if components is not None:
        if not isinstance(components, list) or not all(isinstance(c, Mapping) for c in components):
            raise SendValidationError("invalid_template", "template.components must be a list of objects.")
        result["components"] = [dict(c) for c in components]
    return result


def _media(media: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(media, Mapping):
        raise SendValidationError("invalid_media", "media must be an object.")
    media_type = media.get("type")
    if not isinstance(media_type, str) or media_type not in MEDIA_TYPES:
        raise SendValidationError(
            "invalid_media", f"media.type must be one of {', '.join(sorted(MEDIA_TYPES))}."
        )
    link, media_id = media.get("link"), media.get("id")
    if (link is None) == (media_id is None):
        raise SendValidationError("invalid_media", "Give exactly one of media.link and media.id.")
    result: dict[str, Any] = {}
    if link is not None:
        if not isinstance(link, str) or not re.match(r"^https?://\S+$", link, re.IGNORECASE):
            raise SendValidationError("invalid_media", "media.link must be an http(s) URL.")
        result["link"] = link
    else:
        if not isinstance(media_id, str | int) or isinstance(media_id, bool) or not str(media_id).strip():
            raise SendValidationError("invalid_media", "media.id must be a media id.")
        result["id"] = str(media_id).strip()
    caption = media.get("caption")
    if caption is not None:
        if media_type in NO_CAPTION_TYPES:
            raise SendValidationError("invalid_media", f"A {media_type} message cannot have a caption.")
        if not isinstance(caption, str) or len(caption) > CAPTION_MAX:
            raise SendValidationError(
                "invalid_media", f"media.caption must be text of {CAPTION_MAX} or fewer."
            )
        if caption:
            result["caption"] = caption
    filename = media.get("filename")
    if filename is not None:
        if media_type != "document":
            raise SendValidationError("invalid_media", "Only a document has a filename.")
        if not isinstance(filename, str) or not filename.strip():
            raise SendValidationError("invalid_media", "media.filename must be a non-empty string.")
        result["filename"] = filename.strip()
    return media_type, result


def _coordinate(value: object, name: str, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SendValidationError("invalid_location", f"location.{name} must be a number.")
    try:
        number = float(value)
    except ValueError:
        raise SendValidationError("invalid_location", f"location.{name} must be a number.") from None
    if not math.isfinite(number) or abs(number) > limit:
        raise SendValidationError("invalid_location", f"location.{name} must be within ±{limit:g}.")
    return number


def _location(location: object) -> dict[str, Any]:
    if not isinstance(location, Mapping):
        raise SendValidationError("invalid_location", "location must be an object.")
    result: dict[str, Any] = {
        "latitude": _coordinate(location.get("latitude"), "latitude", 90),
        "longitude": _coordinate(location.get("longitude"), "longitude", 180),
    }
    for key in ("name", "address"):
        value = location.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise SendValidationError("invalid_location", f"location.{key} must be a string.")
            result[key] = value
    return result


def _interactive(interactive: object) -> dict[str, Any]:
    if not isinstance(interactive, Mapping):
        raise SendValidationError("invalid_interactive", "interactive must be an object.")
    kind = interactive.get("type")
    if kind not in INTERACTIVE_TYPES:
        raise SendValidationError(
            "invalid_interactive", f"interactive.type must be one of {', '.join(sorted(INTERACTIVE_TYPES))}."
        )
    action = interactive.get("action")
    if kind != "location_request_message" and not isinstance(action, Mapping):
        raise SendValidationError("invalid_interactive", "interactive.action must be an object.")
    body = interactive.get("body")
    if kind in ("button", "list") and not (isinstance(body, Mapping) and isinstance(body.get("text"), str)):
        raise SendValidationError("invalid_interactive", f'A {kind} message needs body {{"text": ...}}.')
    if kind == "button" and isinstance(action, Mapping):
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise SendValidationError("invalid_interactive", "A button message has 1 to 3 buttons.")
    if kind == "list" and isinstance(action, Mapping):
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10 or "button" not in action:
            raise SendValidationError(
                "invalid_interactive", "A list message needs a button and 1 to 10 sections."
            )
    return dict(interactive)
