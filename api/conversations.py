"""Conversations: the list, one customer's conversation, its notes, and marking messages read."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from api.pagination import next_url
from api.schemas import (
    ERRORS,
    BusinessQuery,
    ConversationOut,
    ConversationPage,
    ConversationQuery,
    MarkReadIn,
    MarkReadOut,
)
from api.security import principal_of
from api.team_schemas import ConversationPatchIn
from store import queries
from store.actions.read import mark_read
from store.actions.team import ConversationChange, update_conversation
from store.errors import InvalidRequest
from store.events import ConversationJSON, conversation_json
from store.labels import LabelError, normalise_label
from store.models import ConversationStatus

router = Router(tags=["conversations"])
# Only the assignee (unassign) and snoozed_until (with a status that is not snoozed) may be sent as null.
NOT_NULL = ("notes", "status", "labels")


@router.get("/conversations/", response={200: ConversationPage, **ERRORS}, operation_id="list_conversations")
def list_conversations(request: HttpRequest, filters: Query[ConversationQuery]) -> dict[str, Any]:
    """Conversations by last_message_at, newest first (those without messages last), then id."""
    principal = principal_of(request)
    scope = principal.scope
    found = queries.ConversationFilter(
        unread=filters.unread,
        q=filters.q,
        business=filters.business,
        assignee=assignee_filter(filters.assignee, principal.user.get_username()),
        statuses=status_filter(filters.status),
        label=label_filter(filters.label),
    )
    page = queries.list_conversations(scope, found, limit=filters.limit, cursor=filters.cursor)
    return {
        "results": [conversation_json(c) for c in page.items],
        "next": next_url(request, page.next_cursor, queries.page_size(filters.limit)),
    }


@router.get(
    "/conversations/{customer}/", response={200: ConversationOut, **ERRORS}, operation_id="get_conversation"
)
def get_conversation(request: HttpRequest, customer: str, lookup: Query[BusinessQuery]) -> ConversationJSON:
    """The conversation of a customer, by wa_id or BSUID; 404 outside the token's scope, as for an
    unknown customer."""
    scope = principal_of(request).scope
    return conversation_json(queries.get_conversation(scope, customer, lookup.business))


@router.patch(
    "/conversations/{customer}/",
    response={200: ConversationOut, **ERRORS},
    operation_id="update_conversation",
)
def update_conversation_view(
    request: HttpRequest, customer: str, body: ConversationPatchIn, lookup: Query[BusinessQuery]
) -> ConversationJSON:
    """Change any of `notes`, `assignee`, `status`, `snoozed_until`, `labels`; logs `conversation.updated`."""
    scope = principal_of(request).scope
    fields = body.model_dump(exclude_unset=True)
    if not fields:
        raise InvalidRequest("Name at least one of notes, assignee, status, snoozed_until, labels.")
    for name in NOT_NULL:
        if name in fields and fields[name] is None:
            raise InvalidRequest(f"{name} cannot be null.")
    change = ConversationChange(fields)
    return conversation_json(update_conversation(scope, customer, lookup.business, change))


def assignee_filter(value: str | None, me: str) -> str | None:
    if value is None or value == "":
        return None
    if value == "me":
        return me
    return queries.NO_ASSIGNEE if value == "none" else value


def status_filter(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    statuses = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [s for s in statuses if s not in ConversationStatus.values]
    if unknown:
        raise InvalidRequest(f"Unknown status {unknown[0]!r}: use {', '.join(ConversationStatus.values)}.")
    return statuses


def label_filter(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalise_label(value)
    except LabelError as error:
        raise InvalidRequest(str(error), code="invalid_label") from error


@router.post("/mark-read/", response={200: MarkReadOut, **ERRORS}, operation_id="mark_read")
def mark_read_view(request: HttpRequest, body: MarkReadIn) -> dict[str, Any]:
    """Mark a customer's inbound messages read (`phone_number`), or the given ones (`message_ids`).

    `conversation` is null when `message_ids` spanned several conversations. An unknown id and one
    outside the token's scope get the same 404, which names none of the ids.
    """
    result = mark_read(
        principal_of(request).scope,
        customer=body.phone_number,
        business=body.business,
        message_ids=body.message_ids,
    )
    conversation = conversation_json(result.conversation) if result.conversation is not None else None
    return {"marked": result.marked, "conversation": conversation}
