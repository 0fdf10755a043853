"""WebSocket routes (docs/websocket.md)."""

from __future__ import annotations

from django.urls import path

from realtime.consumers import ConversationSocket, InboxSocket

websocket_urlpatterns = [
    path("ws/whatsapp/inbox/", InboxSocket.as_asgi()),
    path("ws/whatsapp/conversations/<str:customer>/", ConversationSocket.as_asgi()),
]
