"""The read side: messages and conversations a scope may see, in keyset-paginated pages."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import F, Q, QuerySet

from store.actions.conversations import customer_filter
from store.auth import TokenScope
from store.errors import InvalidRequest, NotFound, OutOfScope
from store.models import MessageTemplate, WhatsAppBusinessNumber, WhatsAppConversation, WhatsAppMessage
from store.search import search_messages, search_order

DEFAULT_PAGE_SIZE = 50
# A WABA has at most 250 templates (6,000 with a verified business); the list answers them in one page.
MAX_TEMPLATES = 1000
MAX_PAGE_SIZE = 200
CursorKind = Literal["m", "c"]
T = TypeVar("T")

# Columns no list needs: the raw object is for the detail view only.
LIST_DEFERRED = ("raw", "media_sha256", "received_at")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFilter:
    phone: str | None = None
    business: str | None = None
    conversation: int | None = None
    message_type: str | None = None
    direction: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationFilter:
    unread: bool | None = None
    q: str | None = None
    business: str | None = None
    # A username, or NO_ASSIGNEE for the unassigned (the API turns `me` into the caller's username).
    assignee: str | None = None
    statuses: tuple[str, ...] = ()
    label: str | None = None


NO_ASSIGNEE = ""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


# The largest id a row can have (a 64-bit primary key).
MAX_ID = 2**63 - 1


def invalid_cursor() -> InvalidRequest:
    return InvalidRequest("The cursor is not one this API handed out.", code="invalid_cursor")


def encode_cursor(kind: CursorKind, position: datetime | None, pk: int) -> str:
    """An opaque position after (`position`, `pk`) in a list of `kind`."""
    text = f"{kind}|{position.astimezone(UTC).isoformat() if position else ''}|{pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(kind: CursorKind, cursor: str) -> tuple[datetime | None, int]:
    """The position `encode_cursor` wrote; raises `invalid_cursor` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        found_kind, position_text, pk_text = text.split("|")
        position = datetime.fromisoformat(position_text) if position_text else None
        if position is not None and position.tzinfo is not None:
            # An offset can push a time past year 9999 in UTC: that cursor was never handed out.
            position = position.astimezone(UTC)
        pk = int(pk_text)
    except (ValueError, OverflowError, UnicodeError, binascii.Error) as error:
        raise invalid_cursor() from error
    if found_kind != kind or not 1 <= pk <= MAX_ID or (position is not None and position.tzinfo is None):
        raise invalid_cursor()
    return position, pk


def page_size(limit: int | None) -> int:
    """`limit` capped at MAX_PAGE_SIZE; below 1 is an error."""
    if limit is None:
        return DEFAULT_PAGE_SIZE
    if limit < 1:
        raise InvalidRequest("limit must be at least 1.")
    return min(limit, MAX_PAGE_SIZE)


def list_messages(
    scope: TokenScope, filters: MessageFilter, *, limit: int | None = None, cursor: str | None = None
) -> Page[WhatsAppMessage]:
    """Messages newest first by (timestamp, id)."""
    size = page_size(limit)
    position = decode_cursor("m", cursor) if cursor else None
    messages = _filter_messages(scope, filters)
    if messages is None:
        return Page([], None)
    if position is not None:
        timestamp, pk = position
        if timestamp is None:
            raise invalid_cursor()
        # The redundant `timestamp <= t` gives the planner an index range on (timestamp, id).
        messages = messages.filter(Q(timestamp__lt=timestamp) | Q(pk__lt=pk), timestamp__lte=timestamp)
    order = search_order() if filters.q else ("-timestamp", "-id")
    rows = list(messages.order_by(*order)[: size + 1])
    if len(rows) <= size:
        return Page(rows, None)
    last = rows[size - 1]
    return Page(rows[:size], encode_cursor("m", last.timestamp, last.pk))


def _filter_messages(scope: TokenScope, filters: MessageFilter) -> QuerySet[WhatsAppMessage] | None:
    messages = WhatsAppMessage.objects.defer(*LIST_DEFERRED).filter(
        scope.conversation_filter("conversation__")
    )
    if filters.phone:
        # Resolved first so that one customer's page walks the (conversation, timestamp, id) index.
        ids = list(
            WhatsAppConversation.objects.filter(customer_filter(filters.business, filters.phone)).values_list(
                "pk", flat=True
            )
        )
        if not ids:
            return None
        messages = messages.filter(conversation_id__in=ids)
    elif filters.business:
        messages = messages.filter(conversation__business_phone_number_id=filters.business)
    if filters.conversation is not None:
        messages = messages.filter(conversation_id=filters.conversation)
    if filters.message_type:
        messages = messages.filter(message_type=filters.message_type)
    if filters.direction:
        messages = messages.filter(direction=filters.direction)
    if filters.status:
        messages = messages.filter(status=filters.status)
    if filters.since is not None:
        messages = messages.filter(timestamp__gte=filters.since)
    if filters.until is not None:
        messages = messages.filter(timestamp__lt=filters.until)
    if filters.q:
        messages = search_messages(messages, filters.q)
    return messages


def _label_filter(label: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(labels__contains=[label])
    # SQLite has no JSON containment; a label holds no quote (store/labels.py), so its quoted JSON form
    # appears in the list's text only as that whole element.
    return Q(labels__icontains=json.dumps(label))


def list_conversations(
    scope: TokenScope, filters: ConversationFilter, *, limit: int | None = None, cursor: str | None = None
) -> Page[WhatsAppConversation]:
    """Conversations by last_message_at, newest first, those without messages last, then by id."""
    size = page_size(limit)
    position = decode_cursor("c", cursor) if cursor else None
    conversations = WhatsAppConversation.objects.select_related("assignee").filter(
        scope.conversation_filter()
    )
    if filters.business:
        conversations = conversations.filter(business_phone_number_id=filters.business)
    if filters.assignee == NO_ASSIGNEE:
        conversations = conversations.filter(assignee__isnull=True)
    elif filters.assignee is not None:
        conversations = conversations.filter(assignee__username=filters.assignee)
    if filters.statuses:
        conversations = conversations.filter(status__in=filters.statuses)
    if filters.label:
        conversations = conversations.filter(_label_filter(filters.label))
    if filters.unread is True:
        conversations = conversations.filter(unread_count__gt=0)
    elif filters.unread is False:
        conversations = conversations.filter(unread_count=0)
    if filters.q:
        conversations = conversations.filter(
            Q(contact_name__icontains=filters.q)
            | Q(phone_number__icontains=filters.q)
            | Q(user_id__icontains=filters.q)
            | Q(username__icontains=filters.q)
        )
    if position is not None:
        last_at, pk = position
        if last_at is None:
            conversations = conversations.filter(last_message_at__isnull=True, pk__lt=pk)
        else:
            conversations = conversations.filter(
                Q(last_message_at__lt=last_at)
                | Q(last_message_at=last_at, pk__lt=pk)
                | Q(last_message_at__isnull=True)
            )
    rows = list(conversations.order_by(*_RECENT_FIRST)[: size + 1])
    if len(rows) <= size:
        return Page(rows, None)
    last = rows[size - 1]
    return Page(rows[:size], encode_cursor("c", last.last_message_at, last.pk))


_RECENT_FIRST = (F("last_message_at").desc(nulls_last=True), F("id").desc())


def get_message(scope: TokenScope, message_id: int) -> WhatsAppMessage:
    """One message by hub id, with its conversation and status history prefetched."""
    message = (
        WhatsAppMessage.objects.select_related("conversation")
        .prefetch_related("statuses")
        .filter(pk=message_id)
        .first()
    )
    unknown = f"No message has id {message_id}."
    if message is None:
        raise NotFound(unknown)
    if not scope.allows_conversation(message.conversation):
        raise OutOfScope(unknown)
    return message


def get_conversation(scope: TokenScope, customer: str, business: str | None = None) -> WhatsAppConversation:
    """The conversation of `customer` (wa_id or BSUID) with `business`, else the most recently active one.

    When the customer wrote to several business numbers, a scoped token gets the most recent one it may
    see; OutOfScope (a 404 like an unknown customer's) when none of their conversations is in scope.
    """
    candidates = WhatsAppConversation.objects.select_related("assignee").filter(
        customer_filter(business, customer)
    )
    found = candidates.filter(scope.conversation_filter()).order_by(*_RECENT_FIRST).first()
    if found is not None:
        return found
    unknown = f"No conversation with customer {customer}" + (f" on {business}." if business else ".")
    if candidates.exists():
        raise OutOfScope(unknown)
    raise NotFound(unknown)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateFilter:
    statuses: tuple[str, ...] = ()
    # A business phone_number_id: the templates of its account only.
    business: str | None = None
    language: str | None = None
    q: str | None = None


def account_of(business_phone_number_id: str) -> str:
    """The WABA a business number belongs to: as Meta's webhooks named it, else the configured one."""
    waba_id = (
        WhatsAppBusinessNumber.objects.filter(phone_number_id=business_phone_number_id)
        .values_list("waba_id", flat=True)
        .first()
    )
    return waba_id or settings.WHATSAPP_BUSINESS_ACCOUNT_ID or ""


def list_templates(scope: TokenScope, filters: TemplateFilter) -> list[MessageTemplate]:
    """The template table by name and language; a token scoped to a business sees its account's only."""
    templates = MessageTemplate.objects.all()
    if scope.business is not None:
        templates = templates.filter(waba_id=account_of(scope.business))
    if filters.business:
        templates = templates.filter(waba_id=account_of(filters.business.strip()))
    if filters.statuses:
        templates = templates.filter(status__in=[s.strip().upper() for s in filters.statuses])
    if filters.language:
        templates = templates.filter(language=filters.language.strip().replace("-", "_"))
    if filters.q:
        templates = templates.filter(name__icontains=filters.q.strip())
    return list(templates.order_by("name", "language", "waba_id")[:MAX_TEMPLATES])
