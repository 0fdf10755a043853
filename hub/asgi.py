"""ASGI wiring: Django's HTTP app behind a body-size guard, and the WebSocket routes."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

from django.core.asgi import get_asgi_application

# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from hub.limits import BodySizeLimit  # noqa: E402

application = ProtocolTypeRouter({"http": BodySizeLimit(django_asgi_app)})
