"""A message object of the webhook (inbound, or an echo of one the business sent), built in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from webhook.message_types import (
    MEDIA_TYPES,
    Context,
    Edit,
    InteractiveReply,
    Location,
    Media,
    Order,
    Reaction,
    Referral,
    Revoke,
    SharedContact,
    System,
    TemplateButton,
)
from webhook.wire import ErrorDetail, JSONObject, errors, obj, objects, text, timestamp


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    REACTION = "reaction"
    ORDER = "order"
    SYSTEM = "system"
    EDIT = "edit"
    REVOKE = "revoke"
    REQUEST_WELCOME = "request_welcome"
    UNSUPPORTED = "unsupported"
    # Any type Meta adds later: kept with its name in `Message.type_name`, never an error.
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> MessageType:
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message; only the field of its type is set. `raw` is the object exactly as received.

    The sender is `from_number` (a wa_id) and/or `from_user_id` (the business-scoped user id, BSUID):
    since 2026 a customer with a username may come with a BSUID and no phone number. For an echo the
    business is the sender and the customer is `to_number` / `to_user_id`.
    """

    wamid: str
    type: MessageType
    type_name: str = ""
    timestamp: datetime | None = None
    from_number: str = ""
    from_user_id: str = ""
    from_parent_user_id: str = ""
    to_number: str = ""
    to_user_id: str = ""
    to_parent_user_id: str = ""
    text: str = ""
    media: Media | None = None
    location: Location | None = None
    contacts: tuple[SharedContact, ...] = ()
    interactive: InteractiveReply | None = None
    button: TemplateButton | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    system: System | None = None
    edit: Edit | None = None
    revoke: Revoke | None = None
    # For `unsupported`: what WhatsApp could not deliver, when Meta says (e.g. `unsupported.type`).
    unsupported_type: str = ""
    context: Context | None = None
    referral: Referral | None = None
    errors: tuple[ErrorDetail, ...] = ()
    raw: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_voice(self) -> bool:
        return self.media is not None and self.media.voice

    @classmethod
    def from_dict(cls, data: JSONObject) -> Message:
        type_name = text(data.get("type"))
        kind = MessageType(type_name)
        content = obj(data.get(type_name)) if type_name else obj(None)
        context = data.get("context")
        referral = data.get("referral")
        return cls(
            wamid=text(data.get("id")),
            type=kind,
            type_name=type_name,
            timestamp=timestamp(data.get("timestamp")),
            from_number=text(data.get("from")),
            from_user_id=text(data.get("from_user_id")),
            from_parent_user_id=text(data.get("from_parent_user_id")),
            to_number=text(data.get("to")),
            to_user_id=text(data.get("to_user_id")),
            to_parent_user_id=text(data.get("to_parent_user_id")),
            text=text(content.get("body")) if kind == MessageType.TEXT else "",
            media=Media.from_dict(content) if type_name in MEDIA_TYPES else None,
            location=Location.from_dict(content) if kind == MessageType.LOCATION else None,
            contacts=tuple(SharedContact.from_dict(c) for c in objects(data.get("contacts"))),
            interactive=InteractiveReply.from_dict(content) if kind == MessageType.INTERACTIVE else None,
            button=TemplateButton.from_dict(content) if kind == MessageType.BUTTON else None,
            reaction=Reaction.from_dict(content) if kind == MessageType.REACTION else None,
            order=Order.from_dict(content) if kind == MessageType.ORDER else None,
            system=System.from_dict(obj(data.get("system"))) if kind == MessageType.SYSTEM else None,
            edit=Edit.from_dict(content) if kind == MessageType.EDIT else None,
            revoke=Revoke.from_dict(content) if kind == MessageType.REVOKE else None,
            unsupported_type=text(obj(data.get("unsupported")).get("type")),
            context=Context.from_dict(context) if isinstance(context, dict) else None,
            referral=Referral.from_dict(referral) if isinstance(referral, dict) else None,
            errors=errors(data.get("errors")),
            raw=data,
        )
