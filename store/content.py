"""The structured content of a message beyond its columns: one definition for ingest, row and wire.

Ingest fills `WhatsAppMessage.content` with a `MessageContentJSON`; REST and socket frames carry it as
the message's `content` (docs/message-content.md). Every key is optional: a key is present only when the
message had that part. Pure: no ORM, so that the pure webhook modules may build it.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict


class SharedPhoneJSON(TypedDict):
    phone: str
    wa_id: str
    type: str


class SharedEmailJSON(TypedDict):
    email: str
    type: str


class ContactCardJSON(TypedDict):
    """A contact card the customer shared."""

    name: str
    organization: str
    phones: list[SharedPhoneJSON]
    emails: list[SharedEmailJSON]


class OrderItemJSON(TypedDict):
    product_retailer_id: str
    quantity: int | None
    item_price: float | None
    currency: str


class OrderJSON(TypedDict):
    """An order placed from the business's catalog."""

    catalog_id: str
    text: str
    items: list[OrderItemJSON]


class ReferralJSON(TypedDict):
    """The click-to-WhatsApp ad or post the customer came from; `ctwa_clid` attributes the click."""

    source_url: str
    source_id: str
    source_type: str
    headline: str
    body: str
    media_type: str
    image_url: str
    video_url: str
    thumbnail_url: str
    ctwa_clid: str


class ReferredProductJSON(TypedDict):
    catalog_id: str
    product_retailer_id: str


class FlowReplyJSON(TypedDict):
    """A WhatsApp Flow's answer (`nfm_reply`): `response` is its `response_json`, decoded."""

    name: str
    body: str
    response: dict[str, Any]


class MessageContentJSON(TypedDict, total=False):
    contacts: list[ContactCardJSON]
    order: OrderJSON
    referral: ReferralJSON
    # From the message's context: a forward, and whose message a reply quotes (a wa_id or number).
    forwarded: bool
    frequently_forwarded: bool
    quoted_from: str
    referred_product: ReferredProductJSON
    # An interactive list reply's row description, and a Flow's answer.
    description: str
    flow: FlowReplyJSON
    # What Meta could not deliver, for an `unsupported` message, when it says.
    unsupported_type: str
    # An audio message recorded as a voice note; an animated sticker.
    voice: bool
    animated: bool
