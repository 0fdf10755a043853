"""A status object of the webhook: what became of a message the business sent."""

# Shapes: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from webhook.wire import ErrorDetail, JSONObject, errors, obj, optional_flag, text, timestamp


class StatusKind(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    # A voice note the customer played.
    PLAYED = "played"
    FAILED = "failed"
    # Any status Meta adds later: kept with its name in `Status.status_name`, never an error.
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> StatusKind:
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationInfo:
    """The (conversation-based pricing) conversation a status belongs to; absent on newer payloads."""

    id: str = ""
    origin_type: str = ""
    expiration_timestamp: datetime | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> ConversationInfo:
        return cls(
            id=text(data.get("id")),
            origin_type=text(obj(data.get("origin")).get("type")),
            expiration_timestamp=timestamp(data.get("expiration_timestamp")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Pricing:
    billable: bool | None = None
    pricing_model: str = ""
    category: str = ""
    # `regular`, `free_customer_service`, `free_entry_point` (sent since v24.0 with per-message pricing).
    type: str = ""

    @classmethod
    def from_dict(cls, data: JSONObject) -> Pricing:
        return cls(
            billable=optional_flag(data.get("billable")),
            pricing_model=text(data.get("pricing_model")),
            category=text(data.get("category")),
            type=text(data.get("type")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """One status update. `raw` is the object exactly as received.

    The customer is `recipient_id` (a wa_id) and/or `recipient_user_id` (BSUID): a message sent to a
    BSUID may come back without a phone number, and a failed one sent to a phone without a BSUID.
    """

    wamid: str
    status: StatusKind
    status_name: str = ""
    timestamp: datetime | None = None
    recipient_id: str = ""
    recipient_user_id: str = ""
    recipient_parent_user_id: str = ""
    conversation: ConversationInfo | None = None
    pricing: Pricing | None = None
    biz_opaque_callback_data: str = ""
    errors: tuple[ErrorDetail, ...] = ()
    raw: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: JSONObject) -> Status:
        status_name = text(data.get("status"))
        conversation = data.get("conversation")
        pricing = data.get("pricing")
        return cls(
            wamid=text(data.get("id")),
            status=StatusKind(status_name),
            status_name=status_name,
            timestamp=timestamp(data.get("timestamp")),
            recipient_id=text(data.get("recipient_id")),
            recipient_user_id=text(data.get("recipient_user_id")),
            recipient_parent_user_id=text(data.get("recipient_parent_user_id")),
            conversation=ConversationInfo.from_dict(conversation) if isinstance(conversation, dict) else None,
            pricing=Pricing.from_dict(pricing) if isinstance(pricing, dict) else None,
            biz_opaque_callback_data=text(data.get("biz_opaque_callback_data")),
            errors=errors(data.get("errors")),
            raw=data,
        )
