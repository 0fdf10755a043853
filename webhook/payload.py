"""Meta's webhook envelope parsed into frozen dataclasses: every entry, every change, every update."""

# Shapes: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/overview

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from webhook.messages import Message, MessageType
from webhook.statuses import Status, StatusKind
from webhook.wire import ErrorDetail, JSONObject, errors, obj, objects, text

# The fields whose value carries messages, statuses and contacts; every other field is only recorded.
MESSAGES_FIELD = "messages"
ECHOES_FIELD = "smb_message_echoes"


class PayloadError(ValueError):
    """The body cannot be a WhatsApp webhook at all (as opposed to one with odd or unknown parts)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessNumber:
    """The business phone number a change is about (`value.metadata`), in the WABA of its entry."""

    phone_number_id: str = ""
    display_phone_number: str = ""
    waba_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """A customer as the `contacts` array names them; since 2026 `user_id` (BSUID) may come alone."""

    wa_id: str = ""
    user_id: str = ""
    parent_user_id: str = ""
    name: str = ""
    username: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> Contact:
        profile = obj(data.get("profile"))
        return cls(
            wa_id=text(data.get("wa_id")),
            user_id=text(data.get("user_id")),
            parent_user_id=text(data.get("parent_user_id")),
            name=text(profile.get("name")),
            # Meta documents `profile.username`; read the top level too in case it moves.
            username=text(profile.get("username")) or text(data.get("username")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesChange:
    """One `messages` or `smb_message_echoes` change: its business number and everything it carries.

    `messages` are inbound; `echoes` are messages the business sent from the WhatsApp Business app.
    """

    field: str
    business: BusinessNumber
    contacts: tuple[Contact, ...] = ()
    messages: tuple[Message, ...] = ()
    echoes: tuple[Message, ...] = ()
    statuses: tuple[Status, ...] = ()
    errors: tuple[ErrorDetail, ...] = ()

    @classmethod
    def from_dict(cls, field_name: str, waba_id: str, value: JSONObject) -> MessagesChange:
        metadata = obj(value.get("metadata"))
        return cls(
            field=field_name,
            business=BusinessNumber(
                phone_number_id=text(metadata.get("phone_number_id")),
                display_phone_number=text(metadata.get("display_phone_number")),
                waba_id=waba_id,
            ),
            contacts=tuple(Contact.from_dict(c) for c in objects(value.get("contacts"))),
            messages=tuple(Message.from_dict(m) for m in objects(value.get("messages"))),
            echoes=tuple(Message.from_dict(m) for m in objects(value.get("message_echoes"))),
            statuses=tuple(Status.from_dict(s) for s in objects(value.get("statuses"))),
            errors=errors(value.get("errors")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherChange:
    """A change of a field the hub does not model (template status, account update, ...): acknowledged."""

    field: str
    waba_id: str = ""
    value: object = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookPayload:
    """One POST body. Meta batches: many entries, many changes each, up to 1,000 updates in all."""

    # The envelope's `object`: "whatsapp_business_account" for every WhatsApp webhook.
    object_type: str
    changes: tuple[MessagesChange, ...] = ()
    other_changes: tuple[OtherChange, ...] = ()
    raw: Mapping[str, object] = field(default_factory=dict)

    @property
    def messages(self) -> Iterator[Message]:
        """Every inbound message of every change, in order."""
        for change in self.changes:
            yield from change.messages

    @property
    def echoes(self) -> Iterator[Message]:
        for change in self.changes:
            yield from change.echoes

    @property
    def statuses(self) -> Iterator[Status]:
        for change in self.changes:
            yield from change.statuses


def parse_webhook(data: object) -> WebhookPayload:
    """Parse a decoded webhook body; raises PayloadError only when it cannot be a webhook at all.

    Anything else never raises: unknown fields, types and statuses are kept by name, a wrong-shaped
    part reads as missing, and the raw objects travel along.
    """
    if not isinstance(data, dict):
        raise PayloadError(f"expected a JSON object, got {type(data).__name__}")
    object_name = data.get("object")
    if not isinstance(object_name, str):
        raise PayloadError("`object` is missing or not a string")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("`entry` is missing or not a list")
    changes: list[MessagesChange] = []
    others: list[OtherChange] = []
    for entry in objects(entries):
        waba_id = text(entry.get("id"))
        for change in objects(entry.get("changes")):
            field_name = text(change.get("field"))
            value = change.get("value")
            if field_name in (MESSAGES_FIELD, ECHOES_FIELD) and isinstance(value, dict):
                changes.append(MessagesChange.from_dict(field_name, waba_id, value))
            else:
                others.append(OtherChange(field=field_name, waba_id=waba_id, value=value))
    return WebhookPayload(
        object_type=object_name, changes=tuple(changes), other_changes=tuple(others), raw=data
    )


__all__ = [
    "BusinessNumber",
    "Contact",
    "ErrorDetail",
    "Message",
    "MessageType",
    "MessagesChange",
    "OtherChange",
    "PayloadError",
    "Status",
    "StatusKind",
    "WebhookPayload",
    "parse_webhook",
]
