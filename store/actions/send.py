"""Stores a message the hub is about to send: the conversation, the window rule, the pending row, its event.

The same transaction writes the send's job (an outbox entry), leased to the caller, who runs it at once
(outbound/send.py); if the caller never finishes it (a cancelled request, a dead process), a worker
takes it over when the lease runs out. Meta's answer is recorded by `store.actions.send_result`. The
store never imports outbound/: the REST API and the WebSocket consumer call
`outbound.send.send_message_for`, which calls this module.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from store import jobs
from store.actions.conversations import customer_filter, lock_conversations, make_key
from store.actions.message_rows import count_message
from store.actions.templates import checked_template
from store.auth import EVERYTHING, Principal, TokenScope
from store.columns import clip_to_columns
from store.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unprocessable
from store.eventlog import PendingEvent, append_events
from store.events import MessageJSON, event_payload, window_open
from store.models import (
    Direction,
    Job,
    MessageStatus,
    WhatsAppBusinessNumber,
    WhatsAppConversation,
    WhatsAppMessage,
)

PENDING_PREFIX = "pending:"
SEND_JOB = "message.send"
SEND_MAX_ATTEMPTS = 8
# The caller's hold on a new send's job: longer than one Graph call (its timeout is 20 s), short enough
# that a send whose request died is finished by a worker within minutes.
OUTBOX_LEASE = timedelta(minutes=1)
IDEMPOTENCY_KEY_MAX = 200
# A client's Idempotency-Key names its first send for this long; then it may name a new one.
IDEMPOTENCY_TTL = timedelta(hours=24)
_BSUID = re.compile(r"^[A-Z]{2}\.")
# Meta's phone_number_id is a number; anything else could rewrite the Graph API path it is put in.
_PHONE_NUMBER_ID = re.compile(r"^[0-9]{1,32}$")
REUSED_KEY_DETAIL = (
    "This Idempotency-Key was already used with a different request body. Use a new key for a new message."
)
WINDOW_CLOSED_DETAIL = (
    "More than 24 hours have passed since the customer last wrote (or they never did): WhatsApp only "
    'delivers a template now. Send {"to": ..., "template": {"name": ..., "language": {"code": ...}}}.'
)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What a send answers, over REST and WebSockets alike: 201 with the message, or an error."""

    status: int
    message: MessageJSON | None = None
    error: str | None = None
    detail: str | None = None

    def body(self) -> dict[str, Any]:
        if self.error is None:
            return {"message": self.message}
        body: dict[str, Any] = {"error": self.error, "detail": self.detail or ""}
        if self.message is not None:
            body["message"] = self.message
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """A validated send: Meta's payload without `context`, and where it goes."""

    scope: TokenScope
    payload: dict[str, Any]
    customer: str
    business: str | None = None
    reply_to: str | int | None = None
    free_form: bool = True
    # Already namespaced by credential (`credential_idempotency_key`); None when the caller gave none.
    idempotency_key: str | None = None
    # SHA-256 of the client's request body; empty for the hub's own sends (no body to compare).
    body_hash: str = ""
    # Auto-replies name their conversation; agents name the customer.
    conversation_id: int | None = None
    sender_name: str = ""


@dataclass(frozen=True, slots=True)
class PreparedSend:
    message: WhatsAppMessage
    # True when the idempotency key named an earlier send: nothing new was stored.
    replay: bool
    # The new send's job, leased to the caller; None on a replay.
    job: Job | None = None


def is_placeholder(wamid: str) -> bool:
    return wamid.startswith(PENDING_PREFIX)


def credential_idempotency_key(principal: Principal, key: str | None) -> str | None:
    """The stored form of a client's idempotency key: one namespace per credential (token or session)."""
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters.",
            "invalid_idempotency_key",
        )
    credential = f"t{principal.token_id}" if principal.token_id is not None else f"u{principal.user.pk}"
    return f"{credential}:{key}"


def body_hash(body: Mapping[str, Any]) -> str:
    """A stable digest of a request body: the same JSON object in any key order hashes the same."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_idempotent(request: SendRequest) -> WhatsAppMessage | None:
    """The earlier send a request's key names, after the scope and body checks; None when there is none.

    A client key older than `IDEMPOTENCY_TTL` is released (the earlier message keeps no key), so the
    request is a new send. Raises Forbidden when the earlier message is outside the request's scope and
    Unprocessable (`idempotency_key_reused`) when the body differs from the first one.
    """
    if request.idempotency_key is None:
        return None
    earlier = (
        WhatsAppMessage.objects.select_related("conversation")
        .filter(idempotency_key=request.idempotency_key)
        .first()
    )
    if earlier is None:
        return None
    if earlier.idempotency_body_hash and earlier.received_at < datetime.now(UTC) - IDEMPOTENCY_TTL:
        WhatsAppMessage.objects.filter(pk=earlier.pk).update(idempotency_key=None)
        return None
    if not request.scope.allows_conversation(earlier.conversation):
        raise Forbidden("This customer or business number is outside the token's scope.")
    if earlier.idempotency_body_hash != request.body_hash:
        raise Unprocessable(REUSED_KEY_DETAIL, "idempotency_key_reused")
    return earlier


def validate_business(business: str) -> str:
    """A `business` a client named: a phone_number_id the hub knows (its table or the configured one)."""
    if not _PHONE_NUMBER_ID.match(business):
        raise InvalidRequest("business must be a phone_number_id (digits only).", "invalid_business")
    known = business == settings.WHATSAPP_PHONE_NUMBER_ID
    if not known and not WhatsAppBusinessNumber.objects.filter(phone_number_id=business).exists():
        raise InvalidRequest(f"No business number {business} is known to this hub.", "unknown_business")
    return business


def customer_identity(customer: str) -> tuple[str | None, str | None]:
    """(wa_id, BSUID) of a recipient as typed: a phone number becomes its digits, as Meta's wa_id is."""
    customer = customer.strip()
    if _BSUID.match(customer):
        return None, customer
    return re.sub(r"\D", "", customer), None


def prepare_send(request: SendRequest) -> PreparedSend:
    """Lock or create the conversation, apply the window rule and store the pending message with its event.

    Raises Forbidden outside the scope, Conflict (`outside_customer_service_window`) for a free-form
    message when the window is closed, InvalidRequest for a reply_to that is not in the conversation.
    """
    earlier = find_idempotent(request)
    if earlier is not None:
        return PreparedSend(earlier, replay=True)
    with transaction.atomic():
        conversation = _lock_target(request)
        # Again under the lock: a concurrent retry of the same request may have committed meanwhile.
        earlier = find_idempotent(request)
        if earlier is not None:
            return PreparedSend(earlier, replay=True)
        if request.free_form and not window_open(conversation):
            raise Conflict(WINDOW_CLOSED_DETAIL, "outside_customer_service_window")
        template = request.payload.get("template")
        # Refused here, before anything is stored, when the template table says Meta would refuse it.
        shown = checked_template(conversation.business_phone_number_id, template) if template else ""
        payload = dict(request.payload)
        reply_to = ""
        if request.reply_to is not None:
            reply_to = _resolve_reply_to(conversation, request.reply_to)
            payload["context"] = {"message_id": reply_to}
        message = _new_message(conversation, payload, reply_to, request)
        message.text_body = shown or message.text_body
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:
            # The same key committed meanwhile (a concurrent retry): answer with that first send.
            earlier = find_idempotent(request)
            if earlier is None:
                raise
            return PreparedSend(earlier, replay=True)
        count_message(conversation, message)
        conversation.save()
        job = jobs.enqueue(
            SEND_JOB,
            {"message_id": message.pk},
            dedupe_key=f"send:{message.pk}",
            max_attempts=SEND_MAX_ATTEMPTS,
            leased_for=OUTBOX_LEASE,
        )
        append_events([PendingEvent("message.created", conversation, event_payload(conversation, message))])
        return PreparedSend(message, replay=False, job=job)


def _lock_target(request: SendRequest) -> WhatsAppConversation:
    if request.conversation_id is not None:
        found = WhatsAppConversation.objects.select_for_update().filter(pk=request.conversation_id).first()
        if found is None:
            raise NotFound(f"No conversation has id {request.conversation_id}.")
        return found
    wa_id, user_id = customer_identity(request.customer)
    customer = wa_id or user_id or ""
    if request.business is not None:
        business = validate_business(request.business)
    else:
        business = _default_business(request.scope, customer, request.reply_to)
    if not request.scope.allows(business, [customer]):
        raise Forbidden("This customer or business number is outside the token's scope.")
    key = make_key(business, wa_id, user_id)
    return lock_conversations(create=[key])[key]


def _default_business(scope: TokenScope, customer: str, reply_to: str | int | None) -> str:
    """A reply goes from the number the customer wrote to; else the customer's latest conversation's."""
    conversations = WhatsAppConversation.objects.filter(customer_filter(None, customer)).filter(
        scope.conversation_filter()
    )
    if reply_to is not None:
        replied = WhatsAppMessage.objects.filter(
            _message_ref(reply_to), conversation__in=conversations
        ).values_list("conversation__business_phone_number_id", flat=True)
        if business := replied.first():
            return business
    latest = conversations.order_by(F("last_message_at").desc(nulls_last=True), "-pk").first()
    if latest is not None:
        return latest.business_phone_number_id
    if settings.WHATSAPP_PHONE_NUMBER_ID:
        return settings.WHATSAPP_PHONE_NUMBER_ID
    raise InvalidRequest(
        "No business number to send from: give `business` or set WHATSAPP_PHONE_NUMBER_ID.",
        "no_business_number",
    )


def _message_ref(ref: str | int) -> Q:
    if isinstance(ref, int) or ref.isdigit():
        return Q(pk=int(ref))
    return Q(message_id=ref)


def _resolve_reply_to(conversation: WhatsAppConversation, ref: str | int) -> str:
    if isinstance(ref, str):
        ref = ref.strip()
    target = WhatsAppMessage.objects.filter(_message_ref(ref), conversation=conversation).first()
    if target is None:
        raise InvalidRequest(f"reply_to {ref} is not a message of this conversation.", "invalid_reply_to")
    if is_placeholder(target.message_id):
        raise InvalidRequest("reply_to names a message Meta has not accepted yet.", "invalid_reply_to")
    return target.message_id


def _new_message(
    conversation: WhatsAppConversation, payload: dict[str, Any], reply_to: str, request: SendRequest
) -> WhatsAppMessage:
    kind = str(payload.get("type", "text"))
    content = payload.get(kind)
    content = content if isinstance(content, dict) else {}
    business = WhatsAppBusinessNumber.objects.filter(
        phone_number_id=conversation.business_phone_number_id
    ).first()
    placeholder = f"{PENDING_PREFIX}{uuid.uuid4()}"
    # Meta echoes this in every status of the message: a send whose answer was lost is matched by it.
    payload["biz_opaque_callback_data"] = placeholder
    message = WhatsAppMessage(
        message_id=placeholder,
        conversation=conversation,
        direction=Direction.OUTBOUND,
        from_number=(business.display_phone_number if business else "")
        or conversation.business_phone_number_id,
        to_number=conversation.customer_key,
        from_name=request.sender_name,
        message_type=kind,
        text_body=_text_of(kind, content),
        caption=str(content.get("caption", "")) if kind != "location" else "",
        media_id=str(content.get("id", ""))
        if kind not in ("text", "location", "interactive", "template")
        else "",
        media_filename=str(content.get("filename", "")),
        latitude=content.get("latitude") if kind == "location" else None,
        longitude=content.get("longitude") if kind == "location" else None,
        location_name=str(content.get("name", "")) if kind == "location" else "",
        location_address=str(content.get("address", "")) if kind == "location" else "",
        reply_to=reply_to,
        timestamp=datetime.now(UTC),
        status=MessageStatus.PENDING,
        raw=payload,
        idempotency_key=request.idempotency_key,
        idempotency_body_hash=request.body_hash,
    )
    clip_to_columns(message)
    return message


def _text_of(kind: str, content: Mapping[str, Any]) -> str:
    if kind == "text":
        return str(content.get("body", ""))
    if kind == "interactive":
        body = content.get("body")
        return str(body.get("text", "")) if isinstance(body, dict) else ""
    return ""


def system_request(conversation: WhatsAppConversation, payload: dict[str, Any], key: str) -> SendRequest:
    """A send the hub makes on its own (an auto-reply) into a known conversation."""
    return SendRequest(
        scope=EVERYTHING,
        payload=payload,
        customer=conversation.customer_key,
        conversation_id=conversation.pk,
        idempotency_key=key,
        sender_name="auto-reply",
    )
