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
    NotesIn,
)
from api.security import principal_of
from store import queries
from store.actions.notes import update_conversation_notes
from store.actions.read import mark_read
from store.events import ConversationJSON, conversation_json

router = Router(tags=["conversations"])


@router.get("/conversations/", response={200: ConversationPage, **ERRORS}, operation_id="list_conversations")
def list_conversations(request: HttpRequest, filters: Query[ConversationQuery]) -> dict[str, Any]:
    """Conversations by last_message_at, newest first (those without messages last), then id."""
    scope = principal_of(request).scope
    found = queries.ConversationFilter(unread=filters.unread, q=filters.q, business=filters.business)
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
def update_conversation(
    request: HttpRequest, customer: str, body: NotesIn, lookup: Query[BusinessQuery]
) -> ConversationJSON:
    """Edit the conversation's `notes` (nothing else can be changed)."""
    scope = principal_of(request).scope
    return conversation_json(update_conversation_notes(scope, customer, lookup.business, body.notes))


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
