"""The webhook's GET handshake in Django; every POST takes the ASGI endpoint (webhook/endpoint.py)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from webhook.signature import verify_subscription


def error_response(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


@csrf_exempt
def webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return verify_handshake(request)
    # A POST reaches Django only off the endpoint's exact path: hub/asgi.py routes the rest past it.
    return error_response(405, "method_not_allowed", "Use GET to verify or POST to deliver.")


def verify_handshake(request: HttpRequest) -> HttpResponse:
    challenge = verify_subscription(request.GET.dict(), settings.WHATSAPP_VERIFY_TOKEN)
    if challenge is None:
        return error_response(403, "verification_failed", "Wrong hub.mode or hub.verify_token.")
    return HttpResponse(challenge, content_type="text/plain")
