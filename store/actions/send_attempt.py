"""The states of one call to Meta for a pending send: begun, not sent after all, or unknown.

A send is `pending` until the call to Meta begins; `send_started_at` records that it began, under the
holder's lease of the send's job. From then on only Meta's answer can say what happened: `sent`,
`failed`, or, when the answer was lost, `unknown` (docs/reliability.md). Only an error proving nothing
reached Meta puts it back to not begun, so that the job may try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from store import jobs
from store.actions.send import SEND_JOB, WINDOW_CLOSED_DETAIL, is_placeholder
from store.columns import column_length
from store.eventlog import PendingEvent, append_events
from store.events import event_payload, window_open
from store.models import Job, MessageStatus, WhatsAppConversation, WhatsAppMessage

# Meta's own code for a free-form message outside the customer service window.
WINDOW_CLOSED_CODE = 131047
UNKNOWN_TITLE = "Meta's answer was lost: the message may or may not have reached the customer."


@dataclass(frozen=True, slots=True)
class Begun:
    """What `begin_send` decided: call Meta for `message` from `business`, or not (`business` None)."""

    message: WhatsAppMessage | None
    business: str | None = None


def begin_send(message_pk: int, job: Job) -> Begun:
    """Record that the holder of `job` is about to call Meta for the message, if it still should.

    Nothing is called when the job's lease passed to another worker, when the message is no longer
    pending, or when an earlier call began and never recorded its end (it may have reached Meta: the
    message becomes `unknown`). A free-form message whose 24-hour window closed meanwhile fails as Meta
    would fail it.
    """
    with transaction.atomic():
        conversation, message = _lock(message_pk)
        if message is None or conversation is None:
            return Begun(None)
        if not jobs.holds(job):
            return Begun(message)
        if message.status != MessageStatus.PENDING or not is_placeholder(message.message_id):
            return Begun(message)
        if message.send_started_at is not None:
            _set_status(conversation, message, MessageStatus.UNKNOWN, None, UNKNOWN_TITLE)
            return Begun(message)
        if message.raw.get("type") != "template" and not window_open(conversation):
            _set_status(conversation, message, MessageStatus.FAILED, WINDOW_CLOSED_CODE, WINDOW_CLOSED_DETAIL)
            return Begun(message)
        message.send_started_at = datetime.now(UTC)
        message.save(update_fields=["send_started_at"])
        return Begun(message, conversation.business_phone_number_id)


def record_not_sent(message_pk: int) -> None:
    """The call failed before any byte reached Meta: the send may be tried again."""
    WhatsAppMessage.objects.filter(pk=message_pk, status=MessageStatus.PENDING).update(send_started_at=None)


def record_send_unknown(message_pk: int, title: str = UNKNOWN_TITLE) -> WhatsAppMessage | None:
    """The call was made and its answer lost: `unknown` until a status webhook or an agent settles it."""
    return _finish(message_pk, MessageStatus.UNKNOWN, None, title)


def record_send_failed(message_pk: int, *, code: int | None, title: str) -> WhatsAppMessage | None:
    """Meta refused the message for good (or retries ran out): `failed` with Meta's code and title."""
    return _finish(message_pk, MessageStatus.FAILED, code, title)


def settle_abandoned_send(job: Job) -> None:
    """A send's job lost its lease on its last attempt: the message is unknown if a call began, or failed."""
    message_pk = int(job.payload.get("message_id", 0))
    message = WhatsAppMessage.objects.filter(pk=message_pk).values_list("send_started_at", flat=True).first()
    if message is not None:
        record_send_unknown(message_pk)
    else:
        record_send_failed(message_pk, code=None, title=f"Not sent: {job.last_error}")


jobs.ABANDONED[SEND_JOB] = settle_abandoned_send


def _finish(message_pk: int, status: str, code: int | None, title: str) -> WhatsAppMessage | None:
    with transaction.atomic():
        conversation, message = _lock(message_pk)
        if message is None or conversation is None:
            return None
        if message.status == MessageStatus.PENDING and is_placeholder(message.message_id):
            _set_status(conversation, message, status, code, title)
        return message


def _lock(message_pk: int) -> tuple[WhatsAppConversation | None, WhatsAppMessage | None]:
    """The message and its conversation, locked conversation first as every send action does."""
    conversation_id = WhatsAppMessage.objects.filter(pk=message_pk).values_list("conversation_id", flat=True)
    conversation = WhatsAppConversation.objects.select_for_update().filter(pk__in=conversation_id).first()
    message = WhatsAppMessage.objects.select_for_update().filter(pk=message_pk).first()
    return conversation, message


def _set_status(
    conversation: WhatsAppConversation, message: WhatsAppMessage, status: str, code: int | None, title: str
) -> None:
    message.status = status
    message.error_code = code
    message.error_title = title[: column_length(WhatsAppMessage, "error_title")]
    message.save(update_fields=["status", "error_code", "error_title"])
    append_events([PendingEvent("message.updated", conversation, event_payload(conversation, message))])
