"""What ingest hands to the store: plain records in the store's own terms, free of Meta's envelope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessRecord:
    phone_number_id: str
    display_phone_number: str = ""
    waba_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRecord:
    """A customer as Meta names them: wa_id, BSUID or both, with the profile name and username if sent."""

    wa_id: str | None = None
    user_id: str | None = None
    name: str = ""
    username: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageChange:
    """An edit or revoke that alters an earlier message (`target_wamid`)."""

    kind: Literal["edit", "revoke"]
    target_wamid: str
    text_body: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityChange:
    """The customer now has another phone number (`phone_number`) or BSUID (`user_id`)."""

    field: Literal["phone_number", "user_id"]
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    wamid: str
    direction: Literal["inbound", "outbound"]
    business: BusinessRecord
    customer: CustomerRecord
    from_number: str
    to_number: str
    message_type: str
    timestamp: datetime
    from_name: str = ""
    text_body: str = ""
    caption: str = ""
    media_id: str = ""
    media_mime_type: str = ""
    media_filename: str = ""
    media_sha256: str = ""
    latitude: float | None = None
    longitude: float | None = None
    location_name: str = ""
    location_address: str = ""
    interactive_id: str = ""
    reply_to: str = ""
    error_code: int | None = None
    error_title: str = ""
    change: MessageChange | None = None
    # `store.events.MessageContentJSON`: what the columns cannot hold.
    content: Mapping[str, Any] = field(default_factory=dict)
    new_identity: IdentityChange | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRecord:
    wamid: str
    status: str
    timestamp: datetime
    business: BusinessRecord
    recipient_id: str = ""
    conversation_id: str = ""
    conversation_origin: str = ""
    conversation_expires_at: datetime | None = None
    pricing_billable: bool | None = None
    pricing_model: str = ""
    pricing_category: str = ""
    pricing_type: str = ""
    biz_opaque_callback_data: str = ""
    errors: Sequence[Mapping[str, Any]] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestBatch:
    """Everything one webhook POST carries, applied in one transaction."""

    businesses: list[BusinessRecord] = field(default_factory=list)
    customers: list[tuple[BusinessRecord, CustomerRecord]] = field(default_factory=list)
    messages: list[MessageRecord] = field(default_factory=list)
    statuses: list[StatusRecord] = field(default_factory=list)
    templates: list[TemplateStatusRecord] = field(default_factory=list)

    def extend(self, other: IngestBatch) -> None:
        """Append another webhook's records (group commit applies several POSTs as one batch)."""
        self.businesses.extend(other.businesses)
        self.customers.extend(other.customers)
        self.messages.extend(other.messages)
        self.statuses.extend(other.statuses)
        self.templates.extend(other.templates)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateRecord:
    """A message template as Meta lists it (`GET /<waba_id>/message_templates`), in the store's terms."""

    waba_id: str
    name: str
    language: str
    status: str
    template_id: str = ""
    category: str = ""
    components: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateStatusRecord:
    """A template's new status from Meta's `message_template_status_update` webhook field."""

    waba_id: str
    name: str
    language: str
    status: str
    template_id: str = ""
    category: str = ""
    reason: str = ""
