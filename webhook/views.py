"""The webhook endpoint in Django (the handshake, and POSTs that reach Django): thin over receive.py."""

from __future__ import annotations

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from store.metrics import WEBHOOK_SECONDS
from webhook.receive import receive_update
from webhook.signature import verify_subscription


def error_response(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


@csrf_exempt
async def webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return verify_handshake(request)
    if request.method == "POST":
        started = time.perf_counter()
        # The size guard in hub/limits.py has already refused bodies over WEBHOOK_MAX_BODY_BYTES.
        answer = await sync_to_async(receive_update)(
            request.read(), request.headers.get("X-Hub-Signature-256")
        )
        WEBHOOK_SECONDS.labels(status=str(answer.status)).observe(time.perf_counter() - started)
        return JsonResponse(answer.body, status=answer.status)
    return error_response(405, "method_not_allowed", "Use GET to verify or POST to deliver.")


def verify_handshake(request: HttpRequest) -> HttpResponse:
    challenge = verify_subscription(request.GET.dict(), settings.WHATSAPP_VERIFY_TOKEN)
    if challenge is None:
        return error_response(403, "verification_failed", "Wrong hub.mode or hub.verify_token.")
    return HttpResponse(challenge, content_type="text/plain")
