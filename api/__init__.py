"""REST API of the hub (docs/rest.md), built on django-ninja; `api.urls` is mounted at /api/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from ninja import NinjaAPI

from api import conversations, media, messages, operations, team, templates
from api.errors import install_error_handlers, json_not_allowed, not_found_view
from api.security import BearerAuth, SessionAuth


class HubAPI(NinjaAPI):
    """NinjaAPI whose every answer under /api/, unknown addresses and wrong methods too, is JSON."""

    @property
    def urls(self) -> tuple[list[URLPattern | URLResolver], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                if pattern.name == "api-root":
                    # ninja's root raises a bare Http404; the name must stay for its reverse().
                    pattern.callback = not_found_view
                else:
                    pattern.callback = json_not_allowed(pattern.callback)
        patterns.append(path("<path:unknown>", not_found_view, name="not-found"))
        return patterns, app_name, namespace


api = HubAPI(
    title="WhatsApp Hub",
    version="1",
    description=(
        "Messages and conversations received through Meta's WhatsApp Cloud API webhook. Authenticate with "
        "`Authorization: Bearer <token>` (`manage.py issue_token`) or a Django session. Errors are "
        '`{"error": code, "detail": text}`.'
    ),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs/",
    auth=[BearerAuth(), SessionAuth()],
)
install_error_handlers(api)
api.add_router("", operations.router)
api.add_router("/whatsapp/", messages.router)
api.add_router("/whatsapp/", conversations.router)
api.add_router("/whatsapp/", media.router)
api.add_router("/whatsapp/", team.router)
api.add_router("/whatsapp/", templates.router)

__all__ = ["api"]
