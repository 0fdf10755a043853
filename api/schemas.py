"""Request and response schemas of the REST API.

The message, status and conversation schemas take their fields from the wire shapes in `store.events`,
so REST and socket frames cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, get_type_hints

from ninja import Field, Schema
from pydantic import ConfigDict, field_validator

from store.events import ConversationJSON, MessageJSON, StatusJSON
from store.queries import DEFAULT_PAGE_SIZE, MAX_ID, MAX_PAGE_SIZE

LIMIT_DESCRIPTION = f"Page size, default {DEFAULT_PAGE_SIZE}; larger values are capped at {MAX_PAGE_SIZE}."
CURSOR_DESCRIPTION = "Where to continue: copy it from `next`."


def wire_fields(shape: type) -> dict[str, Any]:
    """The fields of a wire TypedDict as a Schema's annotations, in the shape's order."""
    return get_type_hints(shape)


class _AwareTimes(Schema):
    @field_validator("since", "until", check_fields=False)
    @classmethod
    def _utc_if_naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        if value is not None:
            # In UTC, as the database compares it; "9999-12-31T23:00-05:00" is past the last year.
            try:
                return value.astimezone(UTC)
            except OverflowError as error:
                raise ValueError("out of range") from error
        return value


class MessageQuery(_AwareTimes):
    phone: str | None = Field(
        None, description="The conversation's customer, wa_id or BSUID; both directions."
    )
    business: str | None = Field(None, description="Business phone_number_id.")
    conversation: int | None = Field(None, ge=1, le=MAX_ID, description="Conversation id.")
    type: str | None = Field(None, description="message_type, Meta's `type` (text, image, interactive, ...).")
    direction: Literal["inbound", "outbound"] | None = None
    status: str | None = None
    since: datetime | None = Field(None, description="ISO 8601; messages at or after it (UTC if no offset).")
    until: datetime | None = Field(None, description="ISO 8601; messages before it (UTC if no offset).")
    q: str | None = Field(
        None,
        description="Words to find in text_body, caption or media_filename, in any form"
        " (full-text search with stemming on PostgreSQL).",
        max_length=500,
    )
    cursor: str | None = Field(None, description=CURSOR_DESCRIPTION)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, description=LIMIT_DESCRIPTION)


class ConversationQuery(Schema):
    unread: bool | None = Field(None, description="true: unread_count > 0; false: unread_count = 0.")
    q: str | None = Field(None, description="Text to find in contact_name, phone_number, user_id, username.")
    business: str | None = Field(None, description="Business phone_number_id.")
    assignee: str | None = Field(None, description="`me`, `none` (unassigned) or a username.")
    status: str | None = Field(
        None, description="open, pending, resolved or snoozed; several separated by commas."
    )
    label: str | None = Field(None, description="Conversations carrying this label.")
    cursor: str | None = Field(None, description=CURSOR_DESCRIPTION)
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, description=LIMIT_DESCRIPTION)


class BusinessQuery(Schema):
    business: str | None = Field(
        None, description="Business phone_number_id; without it, the customer's most recently active one."
    )


class MarkReadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    phone_number: str | None = Field(None, description="The customer's wa_id or BSUID.")
    business: str | None = Field(None, description="With phone_number: which business number's conversation.")
    message_ids: list[int | str] | None = Field(
        None, description="Hub ids (integers) or wamids (strings).", min_length=1
    )


class ErrorOut(Schema):
    error: str
    detail: str


class StatusOut(Schema):
    __annotations__ = wire_fields(StatusJSON)


class MessageOut(Schema):
    """`store.events.MessageJSON`."""

    __annotations__ = wire_fields(MessageJSON)


class MessageDetailOut(MessageOut):
    """`store.events.message_detail_json`."""

    # `store.events.MessageDetailJSON`, with the statuses under their own schema name.
    raw: dict[str, Any]
    statuses: list[StatusOut]


class SendIn(Schema):
    """One message to send; exactly one of text, template, media, location, interactive (Meta's shapes)."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="The customer's phone number (international format) or BSUID.")
    text: str | None = None
    template: dict[str, Any] | None = Field(
        None, description='Meta\'s template object: {"name", "language": {"code"}, "components"?}.'
    )
    media: dict[str, Any] | None = Field(
        None,
        description='{"type": image|video|audio|document|sticker, "link" or "id", "caption"?, "filename"?}.',
    )
    location: dict[str, Any] | None = Field(
        None, description='{"latitude", "longitude", "name"?, "address"?}.'
    )
    interactive: dict[str, Any] | None = Field(None, description="Meta's interactive object.")
    reply_to: int | str | None = Field(None, description="The wamid or hub id of a message to reply to.")
    business: str | None = Field(
        None, description="phone_number_id to send from; default: the number the customer wrote to."
    )


class SendOut(Schema):
    message: MessageOut


class SendErrorOut(Schema):
    error: str
    detail: str
    message: MessageOut | None = Field(None, description="The stored message, when Meta refused it.")


class ConversationOut(Schema):
    """`store.events.ConversationJSON`."""

    __annotations__ = wire_fields(ConversationJSON)


class MessagePage(Schema):
    results: list[MessageOut]
    next: str | None = Field(description="Absolute URL of the next page; null on the last one.")


class ConversationPage(Schema):
    results: list[ConversationOut]
    next: str | None = Field(description="Absolute URL of the next page; null on the last one.")


class MarkReadOut(Schema):
    marked: int = Field(description="How many messages got read_at now.")
    conversation: ConversationOut | None = Field(description="Null when message_ids spanned several.")


class ReadyOut(Schema):
    status: Literal["ready"]
    checks: dict[str, str]


class NotReadyOut(Schema):
    status: Literal["not_ready"]
    checks: dict[str, str]
    error: str
    detail: str


ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
