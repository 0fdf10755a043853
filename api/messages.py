"""Message history: the newest-first list with its filters, and one message with raw and statuses."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Query, Router
from ninja.params.functions import Header

from api.pagination import next_url
from api.schemas import (
    ERRORS,
    MessageDetailOut,
    MessagePage,
    MessageQuery,
    SendErrorOut,
    SendIn,
    SendOut,
)
from api.security import principal_of
from outbound.send import resend_message_for, send_message_for
from store import queries
from store.events import MessageDetailJSON, message_detail_json, message_json

router = Router(tags=["messages"])


@router.get("/messages/", response={200: MessagePage, **ERRORS}, operation_id="list_messages")
def list_messages(request: HttpRequest, filters: Query[MessageQuery]) -> dict[str, Any]:
    """Messages newest first by (timestamp, id), both directions, in pages linked by `next`."""
    scope = principal_of(request).scope
    found = queries.MessageFilter(
        phone=filters.phone,
        business=filters.business,
        conversation=filters.conversation,
        message_type=filters.type,
        direction=filters.direction,
        status=filters.status,
        since=filters.since,
        until=filters.until,
        q=filters.q,
    )
    page = queries.list_messages(scope, found, limit=filters.limit, cursor=filters.cursor)
    return {
        "results": [message_json(m) for m in page.items],
        "next": next_url(request, page.next_cursor, queries.page_size(filters.limit)),
    }


@router.get("/messages/{message_id}/", response={200: MessageDetailOut, **ERRORS}, operation_id="get_message")
def get_message(request: HttpRequest, message_id: int) -> MessageDetailJSON:
    """One message by its hub `id` (not the wamid), with `raw` and its status history.

    A message outside the token's scope is answered 404, exactly as an unknown id.
    """
    message = queries.get_message(principal_of(request).scope, message_id)
    return message_detail_json(message, list(message.statuses.all()))


SEND_ERRORS = {status: SendErrorOut for status in (400, 401, 403, 409, 422, 502, 503)}


@router.post("/messages/", response={201: SendOut, **SEND_ERRORS}, operation_id="send_message")
async def send_message(
    request: HttpRequest,
    body: SendIn,
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        description=(
            "Repeat the same key (per token, or per session) within 24 hours to get the first result"
            " instead of sending twice; the same key with another body is 422 `idempotency_key_reused`."
        ),
    ),
) -> JsonResponse:
    """Send a message to a customer; 201 with it: `sent`, `pending` while a throttled send waits for its
    retry, or `unknown` when Meta's answer was lost (the hub never sends it again by itself; a status
    webhook settles it, or an agent sends it again with `POST /messages/<id>/resend/`).

    A free-form message outside the 24-hour customer service window is refused before anything is sent
    (409 `outside_customer_service_window`); templates are always allowed. When Meta refuses, the
    message is kept as `failed` and the answer is the error with Meta's code and a hint.
    """
    outcome = await send_message_for(
        principal_of(request), body.model_dump(exclude_none=True), idempotency_key
    )
    return JsonResponse(outcome.body(), status=outcome.status)


@router.post(
    "/messages/{message_id}/resend/",
    response={201: SendOut, 404: SendErrorOut, **SEND_ERRORS},
    operation_id="resend_message",
)
async def resend_message(request: HttpRequest, message_id: int) -> JsonResponse:
    """Send again an outbound message whose state is `unknown`; 201 with the new message.

    Meta's answer to the first send was lost, so the customer may already have it: this is an agent's
    decision, never the hub's. One new send at most per message, whoever asks and however often (the
    same new message is answered again); 409 `not_unknown` for a message in any other state, 404 for
    an unknown id or one outside the token's scope.
    """
    outcome = await resend_message_for(principal_of(request), message_id)
    return JsonResponse(outcome.body(), status=outcome.status)
