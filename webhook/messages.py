"""A message object of the webhook (inbound, or an echo of one the business sent), built from one table.

`CONTENT` says, for each message type, which field of `Message` holds its content and how that is read
from the object under the type's key; everything else a message has is declared on `Message` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial

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
from webhook.wire import ErrorDetail, JSONObject, errors, obj, text, timestamp
from webhook.wire_fields import each, one, parse_wire, wire


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


def message_type(value: object) -> MessageType:
    return MessageType(text(value))


def body_text(value: object) -> str:
    return text(obj(value).get("body"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message; only the field of its type is set. `raw` is the object exactly as received.

    The sender is `from_number` (a wa_id) and/or `from_user_id` (the business-scoped user id, BSUID):
    since 2026 a customer with a username may come with a BSUID and no phone number. For an echo the
    business is the sender and the customer is `to_number` / `to_user_id`.
    """

    wamid: str = wire("id")
    type: MessageType = wire("type", message_type)
    type_name: str = wire("type")
    timestamp: datetime | None = wire("timestamp", timestamp)
    from_number: str = wire("from")
    from_user_id: str = wire("from_user_id")
    from_parent_user_id: str = wire("from_parent_user_id")
    to_number: str = wire("to")
    to_user_id: str = wire("to_user_id")
    to_parent_user_id: str = wire("to_parent_user_id")
    # The content of the message's type (see CONTENT): at most one of these is set.
    text: str = ""
    media: Media | None = None
    location: Location | None = None
    interactive: InteractiveReply | None = None
    button: TemplateButton | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    system: System | None = None
    edit: Edit | None = None
    revoke: Revoke | None = None
    # Shared contact cards come beside the type's key, as a list.
    contacts: tuple[SharedContact, ...] = wire("contacts", each(SharedContact))
    # For `unsupported`: what WhatsApp could not deliver, when Meta says (e.g. `unsupported.type`).
    unsupported_type: str = wire("unsupported.type")
    context: Context | None = wire("context", one(Context))
    referral: Referral | None = wire("referral", one(Referral))
    errors: tuple[ErrorDetail, ...] = wire("errors", errors)
    raw: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_voice(self) -> bool:
        return self.media is not None and self.media.voice

    @property
    def content(self) -> object:
        """The parsed content of the message's type (a `Media`, an `Order`, ...), if it has one."""
        entry = CONTENT.get(self.type)
        return getattr(self, entry[0]) if entry else None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Message:
        type_name = text(data.get("type"))
        entry = CONTENT.get(MessageType(type_name))
        content = {entry[0]: entry[1](data.get(type_name))} if entry else {}
        return parse_wire(cls, data, raw=data, **content)


# Message type -> (the field of `Message` that holds its content, how to read the object under its key).
# A type's content is built even when its key is missing or broken: every field then reads as empty.
CONTENT: dict[MessageType, tuple[str, Callable[[object], object]]] = {
    MessageType.TEXT: ("text", body_text),
    **{MessageType(kind): ("media", partial(parse_wire, Media)) for kind in MEDIA_TYPES},
    MessageType.LOCATION: ("location", partial(parse_wire, Location)),
    MessageType.INTERACTIVE: ("interactive", partial(parse_wire, InteractiveReply)),
    MessageType.BUTTON: ("button", partial(parse_wire, TemplateButton)),
    MessageType.REACTION: ("reaction", partial(parse_wire, Reaction)),
    MessageType.ORDER: ("order", partial(parse_wire, Order)),
    MessageType.SYSTEM: ("system", partial(parse_wire, System)),
    MessageType.EDIT: ("edit", partial(parse_wire, Edit)),
    MessageType.REVOKE: ("revoke", partial(parse_wire, Revoke)),
}
