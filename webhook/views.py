"""The webhook endpoint: thin; verification, raw storage, parsing and ingest live in their modules."""

from __future__ import annotations

import json
import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from store.actions.autoreply_rules import record_call_attempts
from store.actions.record import record_batch, record_webhook_error
from store.metrics import WEBHOOK_SECONDS
from store.models import WebhookEvent
from webhook.calls import call_attempts_from_payload
from webhook.ingest import batch_from_payload
from webhook.payload import PayloadError, parse_webhook
from webhook.signature import verify_signature, verify_subscription

logger = logging.getLogger(__name__)


def error_response(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


def database_unavailable() -> JsonResponse:
    # Meta retries anything but a 200 for days, so answering 503 loses nothing.
    return error_response(503, "database_unavailable", "The database is unreachable; retry later.")


@csrf_exempt
async def webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return verify_handshake(request)
    if request.method == "POST":
        started = time.perf_counter()
        response = await receive_update(request)
        WEBHOOK_SECONDS.labels(status=str(response.status_code)).observe(time.perf_counter() - started)
        return response
    return error_response(405, "method_not_allowed", "Use GET to verify or POST to deliver.")


def verify_handshake(request: HttpRequest) -> HttpResponse:
    challenge = verify_subscription(request.GET.dict(), settings.WHATSAPP_VERIFY_TOKEN)
    if challenge is None:
        return error_response(403, "verification_failed", "Wrong hub.mode or hub.verify_token.")
    return HttpResponse(challenge, content_type="text/plain")


async def receive_update(request: HttpRequest) -> HttpResponse:
    # The size guard in hub/limits.py has already refused bodies over WEBHOOK_MAX_BODY_BYTES.
    body = request.read()
    signature = request.headers.get("X-Hub-Signature-256")
    if not verify_signature(settings.WHATSAPP_APP_SECRET, body, signature):
        return error_response(403, "invalid_signature", "X-Hub-Signature-256 is missing or wrong.")
    try:
        event = await WebhookEvent.objects.acreate(body=body)
    except DatabaseError:
        logger.warning("webhook not stored: database unavailable", exc_info=True)
        return database_unavailable()
    try:
        data = json.loads(body)
        payload = parse_webhook(data)
    except (ValueError, RecursionError, PayloadError) as error:
        # RecursionError: json.loads gives up on deeply nested input (about 1,000 levels); not a 500.
        reason = f"not a WhatsApp webhook body: {error}"
        await sync_to_async(record_webhook_error)(event.pk, reason)
        return error_response(400, "invalid_payload", reason)
    try:
        await sync_to_async(record_batch)(batch_from_payload(payload), webhook_event_id=event.pk)
        if calls := call_attempts_from_payload(payload):
            await sync_to_async(record_call_attempts)(calls)
    except DataError as error:
        # A value the database refuses will be refused on every redelivery: keep the raw body, say why.
        logger.error("webhook %s not storable: %s", event.pk, type(error).__name__)
        await sync_to_async(record_webhook_error)(event.pk, f"not storable: {error}")
        return error_response(400, "unstorable_payload", "The database refused a value of this webhook.")
    except DatabaseError:
        logger.warning("webhook %s not ingested: database error", event.pk, exc_info=True)
        return database_unavailable()
    return JsonResponse({"status": "ok"})
