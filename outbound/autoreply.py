"""The auto-reply job: sends the text a rule in store/actions/autoreply_rules.py decided on, exactly once.

The reply goes through the same path as an agent's message: a pending outbound row and its send job,
counted and broadcast, then the send job run at once and Meta's answer recorded. The job's dedupe key
doubles as the message's idempotency key, so a job that runs again after a crash finds its message
instead of storing a second one.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.conf import settings

from outbound.payloads import SendValidationError, build_message
from outbound.send import send_message_job
from outbound.worker import PermanentFailure, run_job
from store.actions.send import prepare_send, system_request
from store.errors import HubError
from store.models import Job, WhatsAppConversation

logger = logging.getLogger(__name__)


async def send_autoreply_job(job: Job) -> None:
    """Called by the worker for each `autoreply.send` job."""
    rule = str(job.payload.get("rule", ""))
    text = job.payload.get("text")
    conversation = await WhatsAppConversation.objects.filter(pk=job.payload.get("conversation_id")).afirst()
    if conversation is None or not isinstance(text, str):
        raise PermanentFailure(f"auto-reply {rule}: conversation or text missing")
    if not settings.WHATSAPP_ACCESS_TOKEN:
        raise PermanentFailure(f"auto-reply {rule} not sent: sending is disabled (no WHATSAPP_ACCESS_TOKEN)")
    try:
        payload = build_message({"to": conversation.customer_key, "text": text})
    except SendValidationError as invalid:
        raise PermanentFailure(f"auto-reply {rule} cannot be sent: {invalid.detail}") from invalid
    key = job.dedupe_key or f"autoreply:job:{job.pk}"
    try:
        prepared = await sync_to_async(prepare_send)(system_request(conversation, payload, key))
    except HubError as refused:
        # The window closed (e.g. a call from a customer who never wrote): WhatsApp would refuse it too.
        raise PermanentFailure(f"auto-reply {rule} not sent: {refused.detail}") from refused
    if prepared.job is None:
        # Stored by an earlier run: its own send job finishes it (a worker takes it over if need be).
        return
    logger.info("auto-reply %s to conversation %s", rule, conversation.pk)
    await run_job(send_message_job, prepared.job)
