"""REST API of the hub (DESIGN.md section 4), built on django-ninja."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI

api = NinjaAPI(title="WhatsApp Hub", version="1", urls_namespace="api", docs_url="/docs/")


@api.get("/health/", auth=None, tags=["operations"])
def health(request: HttpRequest) -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}
