"""The content of each kind of WhatsApp message, one frozen dataclass per Meta object."""

# Shapes: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from webhook.wire import JSONObject, flag, integer, number, obj, objects, text

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    """An image, video, audio (a voice note when `voice`), document or sticker (maybe `animated`)."""

    id: str = ""
    mime_type: str = ""
    sha256: str = ""
    caption: str = ""
    filename: str = ""
    url: str = ""
    voice: bool = False
    animated: bool = False

    @classmethod
    def from_dict(cls, data: JSONObject) -> Media:
        return cls(
            id=text(data.get("id")),
            mime_type=text(data.get("mime_type")),
            sha256=text(data.get("sha256")),
            caption=text(data.get("caption")),
            filename=text(data.get("filename")),
            url=text(data.get("url")),
            voice=flag(data.get("voice")),
            animated=flag(data.get("animated")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    latitude: float | None = None
    longitude: float | None = None
    name: str = ""
    address: str = ""
    url: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> Location:
        return cls(
            latitude=number(data.get("latitude")),
            longitude=number(data.get("longitude")),
            name=text(data.get("name")),
            address=text(data.get("address")),
            url=text(data.get("url")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedPhone:
    phone: str = ""
    wa_id: str = ""
    type: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedContact:
    """A contact card the customer shared; addresses, emails and the rest stay in the message's raw."""

    formatted_name: str = ""
    phones: tuple[SharedPhone, ...] = ()

    @classmethod
    def from_dict(cls, data: JSONObject) -> SharedContact:
        return cls(
            formatted_name=text(obj(data.get("name")).get("formatted_name")),
            phones=tuple(
                SharedPhone(phone=text(p.get("phone")), wa_id=text(p.get("wa_id")), type=text(p.get("type")))
                for p in objects(data.get("phones"))
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractiveReply:
    """A reply to an interactive message: a button or list choice, a Flow's answer, a call permission."""

    kind: InteractiveKind
    kind_name: str = ""
    id: str = ""
    title: str = ""
    description: str = ""
    # Flow (nfm_reply): `response_json` is the form's answers as a JSON string, exactly as sent.
    body: str = ""
    name: str = ""
    response_json: str = ""
    # call_permission_reply: `accept` or `reject`, and when an accepted permission runs out.
    response: str = ""
    expiration_timestamp: int | None = None
    response_source: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> InteractiveReply:
        kind_name = text(data.get("type"))
        reply = obj(data.get(kind_name)) if kind_name else obj(None)
        return cls(
            kind=InteractiveKind(kind_name),
            kind_name=kind_name,
            id=text(reply.get("id")),
            title=text(reply.get("title")),
            description=text(reply.get("description")),
            body=text(reply.get("body")),
            name=text(reply.get("name")),
            response_json=text(reply.get("response_json")),
            response=text(reply.get("response")),
            expiration_timestamp=integer(reply.get("expiration_timestamp")),
            response_source=text(reply.get("response_source")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateButton:
    """A quick-reply button of a template message: what it said and the payload the business set."""

    text: str = ""
    payload: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> TemplateButton:
        return cls(text=text(data.get("text")), payload=text(data.get("payload")))


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction:
    message_id: str = ""
    emoji: str = ""

    @property
    def removed(self) -> bool:
        """Meta reports a withdrawn reaction as one with an empty (or no) emoji."""
        return not self.emoji

    @classmethod
    def from_dict(cls, data: JSONObject) -> Reaction:
        return cls(message_id=text(data.get("message_id")), emoji=text(data.get("emoji")))


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderItem:
    product_retailer_id: str = ""
    quantity: int | None = None
    item_price: float | None = None
    currency: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    catalog_id: str = ""
    text: str = ""
    items: tuple[OrderItem, ...] = ()

    @classmethod
    def from_dict(cls, data: JSONObject) -> Order:
        return cls(
            catalog_id=text(data.get("catalog_id")),
            text=text(data.get("text")),
            items=tuple(
                OrderItem(
                    product_retailer_id=text(i.get("product_retailer_id")),
                    quantity=integer(i.get("quantity")),
                    item_price=number(i.get("item_price")),
                    currency=text(i.get("currency")),
                )
                for i in objects(data.get("product_items"))
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """A change of the customer's number or identity that Meta reports as a message."""

    kind: SystemKind
    kind_name: str = ""
    body: str = ""
    # The new wa_id: `wa_id` since v12.0, `new_wa_id` before.
    wa_id: str = ""
    user_id: str = ""
    previous_user_id: str = ""
    parent_user_id: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> System:
        kind_name = text(data.get("type"))
        return cls(
            kind=SystemKind(kind_name),
            kind_name=kind_name,
            body=text(data.get("body")),
            wa_id=text(data.get("wa_id")) or text(data.get("new_wa_id")),
            user_id=text(data.get("user_id")),
            previous_user_id=text(data.get("previous_user_id")),
            parent_user_id=text(data.get("parent_user_id")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    """The new content of an earlier message (WhatsApp Business app numbers, "coexistence")."""

    original_message_id: str = ""
    type_name: str = ""
    text: str = ""
    caption: str = ""
    media: Media | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Edit:
        # The edited message comes whole under `message`, shaped like any message of its type.
        inner = obj(data.get("message"))
        type_name = text(inner.get("type"))
        content = obj(inner.get(type_name)) if type_name else obj(None)
        media = Media.from_dict(content) if type_name in MEDIA_TYPES else None
        return cls(
            original_message_id=text(data.get("original_message_id")) or text(data.get("message_id")),
            type_name=type_name,
            text=text(content.get("body")) if type_name == "text" else "",
            caption=media.caption if media else "",
            media=media,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Revoke:
    """The customer deleted an earlier message for everyone."""

    original_message_id: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> Revoke:
        return cls(original_message_id=text(data.get("original_message_id")) or text(data.get("message_id")))


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a message answers or came from: a reply's wamid, a forward, a product enquiry."""

    id: str = ""
    from_number: str = ""
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_catalog_id: str = ""
    referred_product_retailer_id: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> Context:
        product = obj(data.get("referred_product"))
        return cls(
            id=text(data.get("id")),
            from_number=text(data.get("from")),
            forwarded=flag(data.get("forwarded")),
            frequently_forwarded=flag(data.get("frequently_forwarded")),
            referred_catalog_id=text(product.get("catalog_id")),
            referred_product_retailer_id=text(product.get("product_retailer_id")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Referral:
    """The click-to-WhatsApp ad or post the customer came from."""

    source_url: str = ""
    source_id: str = ""
    source_type: str = ""
    headline: str = ""
    body: str = ""
    media_type: str = ""
    image_url: str = ""
    video_url: str = ""
    thumbnail_url: str = ""
    ctwa_clid: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> Referral:
        return cls(
            source_url=text(data.get("source_url")),
            source_id=text(data.get("source_id")),
            source_type=text(data.get("source_type")),
            headline=text(data.get("headline")),
            body=text(data.get("body")),
            media_type=text(data.get("media_type")),
            image_url=text(data.get("image_url")),
            video_url=text(data.get("video_url")),
            thumbnail_url=text(data.get("thumbnail_url")),
            ctwa_clid=text(data.get("ctwa_clid")),
        )
