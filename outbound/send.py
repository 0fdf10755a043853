"""Sends a message to Meta: store it pending with its job, run the job at once, record the answer.

REST (`POST /api/whatsapp/messages/`) and the WebSocket `send` frame both call `send_message_for`. The
message's states (docs/reliability.md): `pending` until Meta answers; `sent` (and later statuses) or
`failed` when it did; `unknown` when the call was made and the answer lost. Only an error proving that
nothing reached Meta (a refused connection, a throttling answer) keeps it `pending` for the durable
`message.send` job to try again with backoff; an ambiguous one is never repeated by the hub.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from outbound.error_catalogue import describe_error
from outbound.graph import (
    DEFAULT_TIMEOUT,
    GraphError,
    SendingDisabled,
    SendResult,
    graph_client_from_settings,
)
from outbound.payloads import SendValidationError, build_message, is_free_form
from outbound.worker import PermanentFailure, RetryLater, run_job
from store import jobs
from store.actions.resend import resend_request
from store.actions.send import (
    SendOutcome,
    SendRequest,
    body_hash,
    credential_idempotency_key,
    prepare_send,
)
from store.actions.send_attempt import (
    begin_send,
    record_not_sent,
    record_send_failed,
    record_send_unknown,
)
from store.actions.send_result import record_sent
from store.auth import Principal
from store.errors import HubError
from store.events import message_json
from store.models import Job, MessageStatus, WhatsAppMessage

logger = logging.getLogger(__name__)

# The least wait before a queued retry; Meta's Retry-After or documented delay wins when longer.
MIN_RETRY_DELAY = timedelta(seconds=2)
# One call to Meta; well inside the send job's lease (store/actions/send.py, OUTBOX_LEASE).
SEND_TIMEOUT = DEFAULT_TIMEOUT
SENDING_DISABLED_DETAIL = (
    "Sending is disabled on this hub: WHATSAPP_ACCESS_TOKEN is not set. Nothing was stored or sent."
)
# Meta errors an agent can fix by changing the message or the recipient (answered 422, not 502).
_CLIENT_CODES = frozenset(
    {100, 131008, 131009, 131021, 131026, 131030, 131050, 131051, 131053, 131062, 130472}
)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call to Meta for a pending message: the message as recorded, and the error if it was retryable."""

    message: WhatsAppMessage | None
    retry: GraphError | None = None


# Sends running for requests that went away: kept referenced so that they finish.
_detached: set[asyncio.Future[WhatsAppMessage | None]] = set()
# Fields of a send body that are not the message: they never change what reaches the customer.
_NOT_CONTENT = ("reply_to", "business", "request_id", "idempotency_key", "type")


async def send_message_for(
    principal: Principal, body: Mapping[str, Any], idempotency_key: str | None
) -> SendOutcome:
    """Validate, store, send and record one message for `principal`; never raises for a refused send."""
    try:
        request = _request(principal, body, idempotency_key)
    except SendValidationError as invalid:
        return SendOutcome(400, error=invalid.code, detail=invalid.detail)
    except HubError as error:
        return SendOutcome(error.status, error=error.code, detail=error.detail)
    return await _store_and_send(request)


async def resend_message_for(principal: Principal, message_pk: int) -> SendOutcome:
    """Send again an `unknown` message for `principal` (store/actions/resend.py): one new send at most."""
    try:
        request = await sync_to_async(resend_request)(principal, message_pk)
    except HubError as error:
        return SendOutcome(error.status, error=error.code, detail=error.detail)
    return await _store_and_send(request)


async def _store_and_send(request: SendRequest) -> SendOutcome:
    if not settings.WHATSAPP_ACCESS_TOKEN:
        return SendOutcome(503, error="sending_disabled", detail=SENDING_DISABLED_DETAIL)
    try:
        prepared = await sync_to_async(prepare_send)(request)
    except HubError as error:
        return SendOutcome(error.status, error=error.code, detail=error.detail)
    if prepared.replay or prepared.job is None:
        return outcome_of(prepared.message)
    message = await run_send_now(prepared.job, prepared.message.pk)
    return outcome_of(message or prepared.message)


async def run_send_now(job: Job, message_pk: int) -> WhatsAppMessage | None:
    """Run a new send's job in this request; a client that disconnects does not cancel it."""
    task = asyncio.ensure_future(_run_and_reload(job, message_pk))
    _detached.add(task)
    task.add_done_callback(_detached.discard)
    return await asyncio.shield(task)


async def _run_and_reload(job: Job, message_pk: int) -> WhatsAppMessage | None:
    await run_job(send_message_job, job)
    return await WhatsAppMessage.objects.filter(pk=message_pk).afirst()


def _request(principal: Principal, body: Mapping[str, Any], idempotency_key: str | None) -> SendRequest:
    if not isinstance(body, Mapping):
        raise SendValidationError("invalid_body", "The body must be a JSON object.")
    content = {k: v for k, v in body.items() if k not in _NOT_CONTENT}
    payload = build_message(content)
    reply_to = body.get("reply_to")
    if reply_to is not None and (isinstance(reply_to, bool) or not isinstance(reply_to, str | int)):
        raise SendValidationError("invalid_reply_to", "reply_to must be a wamid or a hub message id.")
    business = body.get("business")
    if business is not None and (not isinstance(business, str) or not business.strip()):
        raise SendValidationError("invalid_business", "business must be a phone_number_id.")
    return SendRequest(
        scope=principal.scope,
        payload=payload,
        customer=str(payload.get("to") or payload.get("recipient")),
        business=business.strip() if business else None,
        reply_to=reply_to,
        free_form=is_free_form(content),
        idempotency_key=credential_idempotency_key(principal, idempotency_key),
        body_hash=body_hash({k: v for k, v in body.items() if k not in ("request_id", "idempotency_key")}),
        sender_name=principal.user.get_username(),
    )


async def attempt_send(job: Job, message_pk: int) -> Attempt:
    """Call Meta once for a pending message under `job`'s lease and record the answer.

    An error proving nothing reached Meta is returned for the job to retry; a lost answer makes the
    message `unknown`, never a second call.
    """
    begun = await sync_to_async(begin_send)(message_pk, job)
    if begun.business is None:
        # Already settled (a job that ran twice), or the lease passed to another worker.
        return Attempt(begun.message)
    try:
        result = await _call_meta(begun.business, begun.message.raw if begun.message else {})
    except SendingDisabled as disabled:
        failed = await sync_to_async(record_send_failed)(message_pk, code=None, title=str(disabled))
        return Attempt(failed)
    except GraphError as error:
        if error.ambiguous:
            logger.warning("send of message %s has no answer: %r", message_pk, error)
            return Attempt(await sync_to_async(record_send_unknown)(message_pk))
        if error.retryable:
            logger.info("send of message %s deferred: %r", message_pk, error)
            await sync_to_async(record_not_sent)(message_pk)
            return Attempt(begun.message, retry=error)
        logger.warning("send of message %s refused: %r", message_pk, error)
        failed = await sync_to_async(record_send_failed)(message_pk, code=error.code, title=_title(error))
        return Attempt(failed)
    except BaseException:
        # Cancelled or crashed mid-call: Meta may have the message, so it must not be sent again.
        await asyncio.shield(sync_to_async(record_send_unknown)(message_pk))
        raise
    sent = await sync_to_async(record_sent)(message_pk, wamid=result.wamid, wa_id=result.wa_id)
    return Attempt(sent)


async def _call_meta(business: str, payload: Mapping[str, Any]) -> SendResult:
    # No retries inside the request: a wait belongs to the job queue, not to an open HTTP request.
    async with graph_client_from_settings(max_retries=0, timeout=SEND_TIMEOUT) as client:
        return await client.send_message(business, payload)


def _title(error: GraphError) -> str:
    return error.title or describe_error(error.code).title


def retry_delay(error: GraphError) -> timedelta:
    seconds = max(error.retry_after or 0.0, describe_error(error.code).min_delay)
    return max(MIN_RETRY_DELAY, timedelta(seconds=seconds))


async def send_message_job(job: Job) -> None:
    """A send's job: run at once by the request that stored it, later by a worker if that one died."""
    message_pk = int(job.payload.get("message_id", 0))
    await finish_job(job, message_pk, await attempt_send(job, message_pk))


async def finish_job(job: Job, message_pk: int, attempt: Attempt) -> None:
    """Turn an attempt into the job's fate: done, retried later, or failed (with the message failed too).

    Retries run out only after errors that proved nothing reached Meta, so the message is `failed`.
    """
    if attempt.retry is not None:
        error = attempt.retry
        if job.attempts >= job.max_attempts:
            title = f"{_title(error)} (gave up after {job.attempts} attempts)"
            await sync_to_async(record_send_failed)(message_pk, code=error.code, title=title)
            raise PermanentFailure(title)
        raise RetryLater(str(error), max(jobs.backoff(job.attempts), retry_delay(error)))
    message = attempt.message
    if message is not None and message.status == MessageStatus.FAILED:
        raise PermanentFailure(f"message {message_pk} failed: {message.error_code} {message.error_title}")


def outcome_of(message: WhatsAppMessage) -> SendOutcome:
    """The REST answer for a message: 201 unless Meta refused it (the same answer on every replay)."""
    shown = message_json(message)
    if message.status != MessageStatus.FAILED:
        return SendOutcome(201, message=shown)
    guidance = describe_error(message.error_code)
    detail = f"Meta refused the message: {message.error_title or guidance.title}"
    if message.error_code is not None:
        detail += f" (error {message.error_code})"
    detail += f". {guidance.hint}"
    if message.error_code == 131047:
        return SendOutcome(409, shown, "outside_customer_service_window", detail)
    status = (
        422 if message.error_code in _CLIENT_CODES or 132000 <= (message.error_code or 0) < 133000 else 502
    )
    return SendOutcome(status, shown, "meta_refused", detail)
