"""One webhook POST from verified bytes to an answer: store raw, parse, ingest (synchronous, one thread).

Both the Django view and the ASGI fast path (webhook/endpoint.py) call `receive_update`, so the two
answer alike. It runs in a single worker thread and hands its database connection back when done: a
webhook costs one thread hop, not one per ORM call and middleware.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, DataError, close_old_connections

from store.actions.autoreply_rules import record_call_attempts
from store.actions.record import record_batch, record_webhook_error
from store.models import WebhookEvent
from webhook.calls import call_attempts_from_payload
from webhook.ingest import batch_from_payload
from webhook.payload import PayloadError, parse_webhook
from webhook.signature import verify_signature

logger = logging.getLogger(__name__)

OK = {"status": "ok"}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, str] = field(default_factory=lambda: dict(OK))


def error(status: int, code: str, detail: str) -> Answer:
    return Answer(status, {"error": code, "detail": detail})


# Meta retries anything but a 200 for days, so answering 503 loses nothing.
DATABASE_UNAVAILABLE = error(503, "database_unavailable", "The database is unreachable; retry later.")
INVALID_SIGNATURE = error(403, "invalid_signature", "X-Hub-Signature-256 is missing or wrong.")


def receive_update(body: bytes, signature: str | None) -> Answer:
    """Verify, store the raw body, parse and ingest; the answer Meta gets."""
    if not verify_signature(settings.WHATSAPP_APP_SECRET, body, signature):
        return INVALID_SIGNATURE
    return _store_and_ingest(body)


def receive_update_outside_request(body: bytes, signature: str | None) -> Answer:
    """`receive_update` for a caller outside Django's request cycle: hands the connection back after."""
    try:
        return receive_update(body, signature)
    finally:
        close_old_connections()


def _store_and_ingest(body: bytes) -> Answer:
    try:
        event = WebhookEvent.objects.create(body=body)
    except DatabaseError:
        logger.warning("webhook not stored: database unavailable", exc_info=True)
        return DATABASE_UNAVAILABLE
    try:
        payload = parse_webhook(json.loads(body))
    except (ValueError, RecursionError, PayloadError) as problem:
        # RecursionError: json.loads gives up on deeply nested input (about 1,000 levels); not a 500.
        reason = f"not a WhatsApp webhook body: {problem}"
        record_webhook_error(event.pk, reason)
        return error(400, "invalid_payload", reason)
    try:
        record_batch(batch_from_payload(payload), webhook_event_id=event.pk)
        if calls := call_attempts_from_payload(payload):
            record_call_attempts(calls)
    except DataError as refused:
        # A value the database refuses will be refused on every redelivery: keep the raw body, say why.
        logger.error("webhook %s not storable: %s", event.pk, type(refused).__name__)
        record_webhook_error(event.pk, f"not storable: {refused}")
        return error(400, "unstorable_payload", "The database refused a value of this webhook.")
    except DatabaseError:
        logger.warning("webhook %s not ingested: database error", event.pk, exc_info=True)
        return DATABASE_UNAVAILABLE
    return Answer(200)
