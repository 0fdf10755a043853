"""The content of each kind of WhatsApp message, one frozen dataclass per Meta object.

Each field says where it sits in Meta's JSON and which stored column it fills (`webhook/wire_fields.py`);
`parse_wire` builds them all, so no type has a parser of its own.
"""

# Shapes: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from webhook.wire import flag, integer, number, text
from webhook.wire_fields import each, one, wire

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})


class InteractiveKind(StrEnum):
    BUTTON_REPLY = "button_reply"
    LIST_REPLY = "list_reply"
    NFM_REPLY = "nfm_reply"
    CALL_PERMISSION_REPLY = "call_permission_reply"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> InteractiveKind:
        return cls.UNKNOWN


class SystemKind(StrEnum):
    # Meta renamed the `customer_*` kinds to `user_*` in v12.0; older numbers may still send either.
    CUSTOMER_CHANGED_NUMBER = "customer_changed_number"
    USER_CHANGED_NUMBER = "user_changed_number"
    USER_CHANGED_USER_ID = "user_changed_user_id"
    CUSTOMER_IDENTITY_CHANGED = "customer_identity_changed"
    USER_IDENTITY_CHANGED = "user_identity_changed"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> SystemKind:
        return cls.UNKNOWN


def interactive_kind(value: object) -> InteractiveKind:
    return InteractiveKind(text(value))


def system_kind(value: object) -> SystemKind:
    return SystemKind(text(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    """An image, video, audio (a voice note when `voice`), document or sticker (maybe `animated`)."""

    id: str = wire("id", column="media_id")
    mime_type: str = wire("mime_type", column="media_mime_type")
    sha256: str = wire("sha256", column="media_sha256")
    caption: str = wire("caption", column="caption")
    filename: str = wire("filename", column="media_filename")
    url: str = wire("url")
    voice: bool = wire("voice", flag)
    animated: bool = wire("animated", flag)


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    latitude: float | None = wire("latitude", number, column="latitude")
    longitude: float | None = wire("longitude", number, column="longitude")
    name: str = wire("name", column="location_name")
    address: str = wire("address", column="location_address")
    url: str = wire("url")


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedPhone:
    phone: str = wire("phone")
    wa_id: str = wire("wa_id")
    type: str = wire("type")


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedEmail:
    email: str = wire("email")
    type: str = wire("type")


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedContact:
    """A contact card the customer shared; addresses, URLs and the rest stay in the message's raw."""

    formatted_name: str = wire("name.formatted_name")
    phones: tuple[SharedPhone, ...] = wire("phones", each(SharedPhone))
    emails: tuple[SharedEmail, ...] = wire("emails", each(SharedEmail))
    organization: str = wire("org.company")


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractiveReply:
    """A reply to an interactive message: a button or list choice, a Flow's answer, a call permission."""

    kind: InteractiveKind = wire("type", interactive_kind)
    kind_name: str = wire("type")
    id: str = wire("$type.id", column="interactive_id")
    # What a reader sees as its text: the first of these that is set.
    title: str = wire("$type.title", column="text_body")
    description: str = wire("$type.description")
    # Flow (nfm_reply): `response_json` is the form's answers as a JSON string, exactly as sent.
    body: str = wire("$type.body", column="text_body")
    name: str = wire("$type.name")
    response_json: str = wire("$type.response_json")
    # call_permission_reply: `accept` or `reject`, and when an accepted permission runs out.
    response: str = wire("$type.response", column="text_body")
    expiration_timestamp: int | None = wire("$type.expiration_timestamp", integer)
    response_source: str = wire("$type.response_source")


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateButton:
    """A quick-reply button of a template message: what it said and the payload the business set."""

    text: str = wire("text", column="text_body")
    payload: str = wire("payload", column="interactive_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction:
    message_id: str = wire("message_id", column="reply_to")
    emoji: str = wire("emoji", column="text_body")

    @property
    def removed(self) -> bool:
        """Meta reports a withdrawn reaction as one with an empty (or no) emoji."""
        return not self.emoji


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderItem:
    product_retailer_id: str = wire("product_retailer_id")
    quantity: int | None = wire("quantity", integer)
    item_price: float | None = wire("item_price", number)
    currency: str = wire("currency")


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    catalog_id: str = wire("catalog_id")
    text: str = wire("text", column="text_body")
    items: tuple[OrderItem, ...] = wire("product_items", each(OrderItem))


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """A change of the customer's number or identity that Meta reports as a message."""

    kind: SystemKind = wire("type", system_kind)
    kind_name: str = wire("type")
    body: str = wire("body", column="text_body")
    # The new wa_id: `wa_id` since v12.0, `new_wa_id` before.
    wa_id: str = wire("wa_id|new_wa_id")
    user_id: str = wire("user_id")
    previous_user_id: str = wire("previous_user_id")
    parent_user_id: str = wire("parent_user_id")


MEDIA_PATHS = "|".join(f"message.{kind}" for kind in sorted(MEDIA_TYPES))


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    """The new content of an earlier message (WhatsApp Business app numbers, "coexistence").

    The edited message comes whole under `message`, shaped like any message of its type; the store
    keeps one text per message, so an edited caption becomes the text to show.
    """

    original_message_id: str = wire("original_message_id|message_id")
    type_name: str = wire("message.type")
    text: str = wire("message.text.body", column="text_body")
    caption: str = wire("message.$type.caption", column="text_body")
    media: Media | None = wire(MEDIA_PATHS, one(Media))


@dataclass(frozen=True, slots=True, kw_only=True)
class Revoke:
    """The customer deleted an earlier message for everyone."""

    original_message_id: str = wire("original_message_id|message_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a message answers or came from: a reply's wamid, a forward, a product enquiry."""

    id: str = wire("id", column="reply_to")
    from_number: str = wire("from")
    forwarded: bool = wire("forwarded", flag)
    frequently_forwarded: bool = wire("frequently_forwarded", flag)
    referred_catalog_id: str = wire("referred_product.catalog_id")
    referred_product_retailer_id: str = wire("referred_product.product_retailer_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class Referral:
    """The click-to-WhatsApp ad or post the customer came from."""

    source_url: str = wire("source_url")
    source_id: str = wire("source_id")
    source_type: str = wire("source_type")
    headline: str = wire("headline")
    body: str = wire("body")
    media_type: str = wire("media_type")
    image_url: str = wire("image_url")
    video_url: str = wire("video_url")
    thumbnail_url: str = wire("thumbnail_url")
    ctwa_clid: str = wire("ctwa_clid")
